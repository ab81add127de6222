using Agents.Contracts;
using Agents.Governance.Audit;
using Agents.Governance.Data;
using Agents.ServiceDefaults.Messaging;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Decisions;

/// <summary>
/// Adds reported usage to the ledger exactly once. Tool calls are counted by governance itself when it
/// reserves them (every call is authorized here); reports add tokens and cost. A report for a model call whose
/// budget was reserved (<see cref="ModelBudgetService"/>) settles the reservation: only the difference between the
/// usage and the reservation is added, to the day the reservation was charged to. <see cref="TaskRunFinished"/>
/// carries the task's totals and only adds what the per-step reports (and reservations) have not already added.
/// </summary>
public sealed class UsageRecorder(GovernanceDbContext db, Ledger ledger, AuditLog audit, TimeProvider time)
{
    public async Task RecordAsync(string dedupeKey, RecordUsage message, CancellationToken cancellationToken)
    {
        Validate(message.Principal, message.TaskId);
        if (message.InputTokens < 0 || message.OutputTokens < 0 || message.Cost < 0)
        {
            throw new PermanentFailureException($"RecordUsage for task {message.TaskId} has negative usage.");
        }

        InboxTransaction.Require(db, "Usage recording");
        if (!await MarkProcessedAsync(dedupeKey, cancellationToken))
        {
            return;
        }

        await ApplyAsync(message, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>Adds one report to the ledger (settling its model call's reservation); the caller deduplicates and saves.</summary>
    private async Task ApplyAsync(RecordUsage message, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var task = await ledger.LockOrCreateTaskAsync(message.TaskId, message.Principal, now, cancellationToken);
        var tokens = message.InputTokens + (long)message.OutputTokens;
        var cost = message.Cost;
        var day = Ledger.DayOf(now);
        if (message.ModelCall is { } call)
        {
            var reservation = await db.ModelReservations.SingleOrDefaultAsync(r => r.TaskId == message.TaskId && r.StepId == call.StepId && r.Attempt == call.Attempt, cancellationToken);
            if (reservation is null)
            {
                // Reported before any reservation was stored (governance did not answer the executor in time): close the
                // call, so that a reservation request still on its way is refused instead of charging the day for good.
                db.ModelReservations.Add(new ModelReservation
                {
                    TaskId = message.TaskId,
                    StepId = call.StepId,
                    Attempt = call.Attempt,
                    Day = day,
                    ReservedAt = now,
                    SettledAt = now,
                    Reason = "the call's usage was reported before its budget was reserved",
                });
            }
            else if (reservation is { Granted: true, SettledAt: null })
            {
                // The reservation was charged to its day when the call was let through: keep the actual usage instead.
                reservation.SettledAt = now;
                tokens -= reservation.Tokens;
                cost -= reservation.Cost;
                day = reservation.Day;
            }
        }

        await AddAsync(task, tokens, cost, day, cancellationToken);
    }

    public async Task FinishAsync(TaskRunFinished message, CancellationToken cancellationToken)
    {
        Validate(message.Principal, message.TaskId);
        InboxTransaction.Require(db, "Usage recording");
        if (!await MarkProcessedAsync($"finished:{message.TaskId}", cancellationToken))
        {
            return;
        }

        // The reports of the step that ended the task come with the end; settled here, once with it.
        foreach (var report in message.UsageReports ?? [])
        {
            if (report.TaskId != message.TaskId || report.InputTokens < 0 || report.OutputTokens < 0 || report.Cost < 0)
            {
                throw new PermanentFailureException($"TaskRunFinished for task {message.TaskId} carries a usage report for another task or with negative usage.");
            }

            await ApplyAsync(report with { Principal = message.Principal }, cancellationToken);

            // Written now (inside the transaction), so that the task's row added for a report is found below.
            await db.SaveChangesAsync(cancellationToken);
        }

        var task = await ledger.LockOrCreateTaskAsync(message.TaskId, message.Principal, time.GetUtcNow(), cancellationToken);
        var usage = message.Usage ?? TaskUsage.None;
        var tokens = Math.Max(0, usage.InputTokens + (long)usage.OutputTokens - task.Tokens);
        var cost = Math.Max(0m, usage.Cost - task.Cost);
        await AddAsync(task, tokens, cost, Ledger.DayOf(time.GetUtcNow()), cancellationToken);
        task.Steps = Math.Max(task.Steps, usage.Steps);
        task.FinishedStatus = message.Status.ToString();
        task.Template = message.Template is { Length: > 0 } template
            ? template[..Math.Min(template.Length, TaskBudget.TemplateMaxLength)]
            : null;
        await audit.AppendAsync(
            task.TenantId,
            message.Principal.UserId,
            message.Status == TaskRunStatus.BudgetExceeded ? "budget.stop" : "task.finished",
            $"task/{message.TaskId}",
            message.TaskId,
            message.Status.ToString(),
            message.Reason,
            new { usage, ledger = new { task.Tokens, task.Cost, task.ToolCalls, task.Steps } },
            cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
    }

    private async Task AddAsync(TaskBudget task, long tokens, decimal cost, DateOnly day, CancellationToken cancellationToken)
    {
        if (tokens == 0 && cost == 0)
        {
            return;
        }

        var (userDay, tenantDay) = await ledger.LockDailyAsync(task.TenantId, day, task.UserId, cancellationToken);
        Ledger.Add(tokens, cost, task, userDay, tenantDay);
    }

    private async Task<bool> MarkProcessedAsync(string key, CancellationToken cancellationToken)
    {
        var inserted = await db.Database.ExecuteSqlInterpolatedAsync(
            $"INSERT INTO processed_messages (key, processed_at) VALUES ({key}, {time.GetUtcNow()}) ON CONFLICT DO NOTHING",
            cancellationToken);
        return inserted == 1;
    }

    private static void Validate(AgentPrincipal? principal, Guid taskId)
    {
        if (principal is null || string.IsNullOrEmpty(principal.TenantId) || string.IsNullOrEmpty(principal.UserId))
        {
            throw new PermanentFailureException($"Usage for task {taskId} has no principal (tenant and user).");
        }
    }
}
