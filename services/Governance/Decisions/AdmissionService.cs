using Agents.Contracts;
using Agents.Governance.Audit;
using Agents.Governance.Data;
using Agents.Governance.Policies;
using Agents.ServiceDefaults.Messaging;

namespace Agents.Governance.Decisions;

/// <summary>Admission of a task: the stored decision is the answer to any redelivery of the same request.</summary>
public sealed record AdmissionResult(TaskAdmitted? Admitted, TaskRejected? Rejected);

/// <summary>
/// Decides <see cref="AdmitTask"/>: tenant enabled, no kill switch, daily budgets left, effective limits and tools.
/// Runs in the consumer's inbox transaction: the decision, its audit entry and the response commit together.
/// </summary>
public sealed class AdmissionService(GovernanceDbContext db, PolicyStore policies, Ledger ledger, AuditLog audit, TimeProvider time)
{
    public async Task<AdmissionResult> AdmitAsync(AdmitTask message, CancellationToken cancellationToken)
    {
        var principal = message.Principal;
        if (principal is null || string.IsNullOrEmpty(principal.TenantId) || string.IsNullOrEmpty(principal.UserId))
        {
            throw new PermanentFailureException($"AdmitTask for task {message.TaskId} has no principal (tenant and user); it cannot be admitted.");
        }

        InboxTransaction.Require(db, "Admission");
        var existing = await ledger.LockTaskAsync(message.TaskId, cancellationToken);
        var controls = await policies.GetControlsAsync(principal.TenantId, cancellationToken);
        var policy = controls.Policy;
        var document = policy.Document;
        if (existing is not null)
        {
            // A redelivered request: answer with the decision already taken.
            return ToResult(existing, document.CallableTools(principal.Roles), LoopLimit(document, message.RequestedLimits));
        }

        var now = time.GetUtcNow();
        var day = Ledger.DayOf(now);
        string? reason = null;
        if (!document.Enabled)
        {
            reason = $"tenant '{principal.TenantId}' is disabled by its policy (version {policy.Version})";
        }
        else if (controls.TenantKilled)
        {
            reason = $"kill switch is on for tenant '{principal.TenantId}'";
        }
        else
        {
            var (userDay, tenantDay) = await ledger.ReadDailyAsync(principal.TenantId, day, principal.UserId, cancellationToken);
            reason = Ledger.DailyExhausted($"user '{principal.UserId}' today", userDay, document.Budgets.PerUserPerDay)
                ?? Ledger.DailyExhausted("tenant today", tenantDay, document.Budgets.PerTenantPerDay);
            if (reason is not null)
            {
                reason = "daily " + reason;
            }
        }

        var limits = (document.Budgets.PerTask.ToTaskLimits() with { MaxIdenticalCalls = document.LoopDetection.MaxIdenticalCalls }).Intersect(message.RequestedLimits);
        var allowedTools = message.RequestedTools?
            .Where(t => document.RolesAllowTool(principal.Roles, t))
            .Distinct(StringComparer.Ordinal)
            .ToArray();
        var task = new TaskBudget
        {
            TaskId = message.TaskId,
            TenantId = principal.TenantId,
            UserId = principal.UserId,
            Admitted = reason is null,
            RejectionReason = reason,
            AdmittedAt = now,
            Day = day,
            MaxSteps = limits.MaxSteps,
            MaxToolCalls = limits.MaxToolCalls,
            MaxTokens = limits.MaxTokens,
            MaxCost = limits.MaxCost,
            MaxWallClockSeconds = limits.MaxWallClock is { } w ? (int)Math.Ceiling(w.TotalSeconds) : null,
            AllowedTools = allowedTools,
        };
        db.Tasks.Add(task);
        await audit.AppendAsync(
            principal.TenantId,
            principal.UserId,
            reason is null ? "task.admitted" : "task.rejected",
            $"task/{message.TaskId}",
            message.TaskId,
            reason is null ? "Admitted" : "Rejected",
            reason,
            new { policyVersion = policy.Version, requestedLimits = message.RequestedLimits, limits, requestedTools = message.RequestedTools, allowedTools },
            cancellationToken);
        // Saved by the inbox unit of work's one SaveChanges, in the same round trip as the outgoing message, right before
        // the commit: the day's ledger rows and the audit head locked above are held for one round trip fewer.
        return ToResult(task, document.CallableTools(principal.Roles), limits.MaxIdenticalCalls);
    }

    /// <summary>The loop limit the executor applies: the policy's, or the task's own when it asked for a stricter one.</summary>
    private static int? LoopLimit(PolicyDocument document, TaskLimits? requested) =>
        new TaskLimits(MaxIdenticalCalls: document.LoopDetection.MaxIdenticalCalls).Intersect(requested).MaxIdenticalCalls;

    private static AdmissionResult ToResult(TaskBudget task, IReadOnlyList<string> callableTools, int? maxIdenticalCalls) => task.Admitted
        ? new AdmissionResult(
            new TaskAdmitted(
                task.TaskId,
                new TaskLimits(task.MaxSteps, task.MaxToolCalls, task.MaxTokens, task.MaxCost, task.MaxWallClockSeconds is { } s ? TimeSpan.FromSeconds(s) : null, maxIdenticalCalls),
                task.AllowedTools,
                callableTools),
            null)
        : new AdmissionResult(null, new TaskRejected(task.TaskId, task.RejectionReason ?? "rejected"));
}
