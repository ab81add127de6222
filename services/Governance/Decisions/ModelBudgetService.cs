using Agents.Contracts;
using Agents.Governance.Data;
using Agents.Governance.Policies;
using Agents.ServiceDefaults.Messaging;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Decisions;

/// <summary>
/// Decides <see cref="ReserveModelBudget"/>: reserves a model call's tokens and cost from the daily budgets of the
/// user and the tenant under the ledger's row locks, so that concurrent tasks cannot overspend a day together (the
/// executor keeps each task within its own limits). The output cap is cut to what the day has room for; a call that
/// cannot afford its input and one output token is refused, unless only reservations of calls still in flight stand in
/// the way: then the answer is "retry later" and nothing is stored. The reservation is charged at once and settled with
/// the actual usage by <see cref="UsageRecorder"/>. Runs in the consumer's inbox transaction; the answer is stored
/// with the reservation, so asking again for the same call reserves nothing more.
/// </summary>
public sealed class ModelBudgetService(GovernanceDbContext db, PolicyStore policies, Ledger ledger, TimeProvider time)
{
    public async Task<ModelBudgetReservation> ReserveAsync(ReserveModelBudget message, CancellationToken cancellationToken)
    {
        var principal = message.Principal;
        if (principal is null || string.IsNullOrEmpty(principal.TenantId) || string.IsNullOrEmpty(principal.UserId))
        {
            throw new PermanentFailureException($"ReserveModelBudget for task {message.TaskId} has no principal (tenant and user).");
        }

        if (message.Call is null || string.IsNullOrEmpty(message.Call.StepId) || message.Call.Attempt < 1
            || message.InputTokens < 0 || message.MaxOutputTokens < 1 || message.InputPerMillion < 0 || message.OutputPerMillion < 0)
        {
            throw new PermanentFailureException(
                $"ReserveModelBudget for task {message.TaskId} is malformed: it needs a step and an attempt from 1, input tokens from 0, at least one output token and prices from 0.");
        }

        InboxTransaction.Require(db, "Model budget reservation");
        var now = time.GetUtcNow();
        var task = await ledger.LockOrCreateTaskAsync(message.TaskId, principal, now, cancellationToken);
        var call = message.Call;
        var existing = await db.ModelReservations
            .SingleOrDefaultAsync(r => r.TaskId == message.TaskId && r.StepId == call.StepId && r.Attempt == call.Attempt, cancellationToken);
        if (existing is not null && !(existing.Granted && existing.SettledAt is not null))
        {
            return ToAnswer(existing);
        }

        // A granted call that has already reported and asks again is being made again (its RunModelStep was redelivered;
        // a redelivered request itself never gets here, the inbox drops it): it reserves afresh under the same key.
        var reservation = existing ?? new ModelReservation { TaskId = message.TaskId, StepId = call.StepId, Attempt = call.Attempt };
        if (existing is null)
        {
            db.ModelReservations.Add(reservation);
        }

        reservation.Day = Ledger.DayOf(now);
        reservation.ReservedAt = now;
        reservation.SettledAt = null;
        reservation.Granted = false;
        reservation.MaxOutputTokens = 0;
        reservation.Tokens = 0;
        reservation.Cost = 0m;
        reservation.Reason = null;
        reservation.BudgetExhausted = false;
        var controls = await policies.GetControlsAsync(principal.TenantId, cancellationToken);
        var policy = controls.Policy;
        var refusal = Refusal(task, principal, controls);
        if (refusal is not null)
        {
            reservation.Reason = refusal;
        }
        else
        {
            var document = policy.Document;
            var (userDay, tenantDay) = await ledger.LockDailyAsync(principal.TenantId, reservation.Day, principal.UserId, cancellationToken);
            var price = new Price(message.InputPerMillion, message.OutputPerMillion);
            var room = Room($"user '{principal.UserId}' today", userDay, document.Budgets.PerUserPerDay, message, price)
                .Min(Room("tenant today", tenantDay, document.Budgets.PerTenantPerDay, message, price));
            if (room.Refusal is not null
                && await HeldInFlightAsync(principal, reservation.Day, cancellationToken) is var (userHeld, tenantHeld)
                && Room("user", Less(userDay, userHeld), document.Budgets.PerUserPerDay, message, price)
                    .Min(Room("tenant", Less(tenantDay, tenantHeld), document.Budgets.PerTenantPerDay, message, price)).Refusal is null)
            {
                // Only reservations of calls in flight stand in the way: store nothing and let the caller ask again.
                if (existing is null)
                {
                    db.Entry(reservation).State = EntityState.Detached;
                }
                else
                {
                    await db.Entry(existing).ReloadAsync(cancellationToken);
                }

                return new ModelBudgetReservation(false, 0, "budget held by model calls in flight: " + room.Refusal, false, RetryLater: true);
            }

            if (room.Refusal is not null)
            {
                reservation.Reason = "budget exhausted: " + room.Refusal;
                reservation.BudgetExhausted = true;
            }
            else
            {
                reservation.Granted = true;
                reservation.MaxOutputTokens = room.OutputTokens;
                reservation.Tokens = message.InputTokens + (long)room.OutputTokens;
                reservation.Cost = price.CostOf(message.InputTokens, room.OutputTokens);
                Ledger.Add(reservation.Tokens, reservation.Cost, task, userDay, tenantDay);
            }
        }

        // Saved by the inbox unit of work's one SaveChanges, in the same round trip as the outgoing message, right before
        // the commit: the day's ledger rows locked above are held for one round trip fewer.
        return ToAnswer(reservation);
    }

    private static string? Refusal(TaskBudget task, AgentPrincipal principal, TenantControls controls)
    {
        var policy = controls.Policy;
        if (task.TenantId != principal.TenantId || task.UserId != principal.UserId)
        {
            return $"task {task.TaskId} belongs to another principal";
        }

        if (!task.Admitted)
        {
            return $"task {task.TaskId} was not admitted: {task.RejectionReason}";
        }

        if (task.FinishedStatus is not null)
        {
            return $"task {task.TaskId} has already finished ({task.FinishedStatus})";
        }

        if (!policy.Document.Enabled)
        {
            return $"tenant '{principal.TenantId}' is disabled by its policy (version {policy.Version})";
        }

        return controls.TenantKilled ? $"kill switch is on for tenant '{principal.TenantId}'" : null;
    }

    /// <summary>Tokens and cost reserved by granted, unsettled model calls of the user and of the whole tenant on <paramref name="day"/>.</summary>
    private async Task<((long Tokens, decimal Cost) User, (long Tokens, decimal Cost) Tenant)> HeldInFlightAsync(AgentPrincipal principal, DateOnly day, CancellationToken cancellationToken)
    {
        var held = await (from r in db.ModelReservations
                          join t in db.Tasks on r.TaskId equals t.TaskId
                          where r.Day == day && r.Granted && r.SettledAt == null && t.TenantId == principal.TenantId
                          group r by t.UserId == principal.UserId into g
                          select new { Mine = g.Key, Tokens = g.Sum(x => x.Tokens), Cost = g.Sum(x => x.Cost) })
            .ToListAsync(cancellationToken);
        var mine = held.Where(h => h.Mine).Select(h => (h.Tokens, h.Cost)).SingleOrDefault();
        return (mine, (held.Sum(h => h.Tokens), held.Sum(h => h.Cost)));
    }

    private static DailyUsage Less(DailyUsage usage, (long Tokens, decimal Cost) held) => new()
    {
        TenantId = usage.TenantId,
        Day = usage.Day,
        UserId = usage.UserId,
        Tokens = usage.Tokens - held.Tokens,
        Cost = usage.Cost - held.Cost,
        ToolCalls = usage.ToolCalls,
    };

    private static ModelBudgetReservation ToAnswer(ModelReservation r) =>
        new(r.Granted, r.MaxOutputTokens, r.Reason, r.BudgetExhausted);

    /// <summary>How many output tokens a daily row has room for after the call's input, or why it has none.</summary>
    private static Headroom Room(string scope, DailyUsage usage, DailyLimits limits, ReserveModelBudget m, Price price)
    {
        long output = m.MaxOutputTokens;
        if (limits.Tokens is { } maxTokens)
        {
            var left = maxTokens - usage.Tokens;
            if (left - m.InputTokens < 1)
            {
                return new(0, $"{scope} tokens {usage.Tokens}/{maxTokens}; the model call needs about {m.InputTokens} input tokens and at least one output token");
            }

            output = Math.Min(output, left - m.InputTokens);
        }

        if (limits.Cost is { } maxCost)
        {
            var left = maxCost - usage.Cost;
            if (left < price.CostOf(m.InputTokens, 1))
            {
                return new(0, $"{scope} cost {usage.Cost:0.####}/{maxCost:0.####}; the model call costs at least {price.CostOf(m.InputTokens, 1):0.######}");
            }

            if (price.OutputPerMillion > 0)
            {
                var affordable = Math.Floor((left - price.CostOf(m.InputTokens, 0)) * 1_000_000m / price.OutputPerMillion);
                output = (long)Math.Min(output, affordable);
            }
        }

        return new((int)output, null);
    }

    private readonly record struct Price(decimal InputPerMillion, decimal OutputPerMillion)
    {
        public decimal CostOf(long input, long output) => (input * InputPerMillion + output * OutputPerMillion) / 1_000_000m;
    }

    private readonly record struct Headroom(int OutputTokens, string? Refusal)
    {
        public Headroom Min(Headroom other) => Refusal is not null ? this : other.Refusal is not null ? other : new(Math.Min(OutputTokens, other.OutputTokens), null);
    }
}
