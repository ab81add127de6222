using Agents.Contracts;
using Agents.Governance.Data;
using Agents.Governance.Policies;
using Agents.ServiceDefaults.Messaging;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Decisions;

/// <summary>
/// Row-locked access to the budget ledger. Locks are always taken in the order task → user-day →
/// tenant-day (→ audit head, last), so concurrent decisions queue instead of deadlocking, and a
/// reservation checked under these locks cannot be overspent by a concurrent task.
/// </summary>
public sealed class Ledger(GovernanceDbContext db)
{
    public static DateOnly DayOf(DateTimeOffset time) => DateOnly.FromDateTime(time.UtcDateTime);

    public async Task<TaskBudget?> LockTaskAsync(Guid taskId, CancellationToken cancellationToken) =>
        (await db.Tasks.FromSqlInterpolated($"SELECT * FROM task_budgets WHERE task_id = {taskId} FOR UPDATE")
            .ToListAsync(cancellationToken)).SingleOrDefault();

    /// <summary>
    /// Locks the day's rows of a user and of the tenant (in that order, the ledger's lock order), creating them on the
    /// day's first use: one round trip once they exist.
    /// </summary>
    public async Task<(DailyUsage User, DailyUsage Tenant)> LockDailyAsync(string tenantId, DateOnly day, string userId, CancellationToken cancellationToken)
    {
        if (await SelectDailyAsync(tenantId, day, userId, cancellationToken) is { } rows)
        {
            return rows;
        }

        await db.Database.ExecuteSqlInterpolatedAsync(
            $"INSERT INTO daily_usage (tenant_id, day, user_id, tokens, cost, tool_calls) VALUES ({tenantId}, {day}, {userId}, 0, 0, 0), ({tenantId}, {day}, {DailyUsage.TenantRow}, 0, 0, 0) ON CONFLICT DO NOTHING",
            cancellationToken);
        return (await SelectDailyAsync(tenantId, day, userId, cancellationToken))!.Value;
    }

    // Sorted so that the user's row is locked before the tenant's (LockRows runs above the sort); and only when both exist,
    // so that a user's first decision of the day never holds the tenant's row while the user's is still to be added.
    private async Task<(DailyUsage User, DailyUsage Tenant)?> SelectDailyAsync(string tenantId, DateOnly day, string userId, CancellationToken cancellationToken)
    {
        var rows = await db.DailyUsage
            .FromSqlInterpolated(
                $"""
                SELECT * FROM daily_usage WHERE tenant_id = {tenantId} AND day = {day} AND user_id IN ({userId}, {DailyUsage.TenantRow})
                  AND (SELECT count(*) FROM daily_usage WHERE tenant_id = {tenantId} AND day = {day} AND user_id IN ({userId}, {DailyUsage.TenantRow})) = 2
                ORDER BY user_id = {DailyUsage.TenantRow} FOR UPDATE
                """)
            .ToListAsync(cancellationToken);
        var user = rows.SingleOrDefault(r => r.UserId == userId);
        var tenant = rows.SingleOrDefault(r => r.UserId == DailyUsage.TenantRow);
        return user is null || tenant is null ? null : (user, tenant);
    }

    /// <summary>
    /// Locks the task's row, or adds one for a task this service has not admitted (its admission answered by a
    /// lost response, say), so that usage reported for it is still counted. Refuses a task of another tenant.
    /// </summary>
    public async Task<TaskBudget> LockOrCreateTaskAsync(Guid taskId, AgentPrincipal principal, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var task = await LockTaskAsync(taskId, cancellationToken);
        if (task is not null)
        {
            return task.TenantId == principal.TenantId
                ? task
                : throw new PermanentFailureException($"A message for task {taskId} names tenant '{principal.TenantId}', but the task belongs to another tenant.");
        }

        task = new TaskBudget { TaskId = taskId, TenantId = principal.TenantId, UserId = principal.UserId, Admitted = true, AdmittedAt = now, Day = DayOf(now) };
        db.Tasks.Add(task);
        return task;
    }

    /// <summary>Adds tokens and cost (negative to give back) to a task and its user-day and tenant-day rows, locked by the caller.</summary>
    public static void Add(long tokens, decimal cost, TaskBudget task, DailyUsage userDay, DailyUsage tenantDay)
    {
        task.Tokens += tokens;
        task.Cost += cost;
        userDay.Tokens += tokens;
        userDay.Cost += cost;
        tenantDay.Tokens += tokens;
        tenantDay.Cost += cost;
    }

    /// <summary>The day's rows of a user and of the tenant as they are now (no lock), in one round trip; null where none exists yet.</summary>
    public async Task<(DailyUsage? User, DailyUsage? Tenant)> ReadDailyAsync(string tenantId, DateOnly day, string userId, CancellationToken cancellationToken)
    {
        var rows = await db.DailyUsage.AsNoTracking()
            .Where(d => d.TenantId == tenantId && d.Day == day && (d.UserId == userId || d.UserId == DailyUsage.TenantRow))
            .ToListAsync(cancellationToken);
        return (rows.SingleOrDefault(r => r.UserId == userId), rows.SingleOrDefault(r => r.UserId == DailyUsage.TenantRow));
    }

    /// <summary>Why a daily row has no room for one more tool call, or null.</summary>
    public static string? DailyExhausted(string scope, DailyUsage? usage, DailyLimits limits) =>
        usage is null ? null : Exhausted(scope, usage.Tokens, usage.Cost, usage.ToolCalls, limits.Tokens, limits.Cost, limits.ToolCalls);

    /// <summary>Why the task has no room for one more tool call, or null.</summary>
    public static string? TaskExhausted(TaskBudget task, TaskBudgetLimits policy) =>
        Exhausted(
            "task",
            task.Tokens,
            task.Cost,
            task.ToolCalls,
            Min(task.MaxTokens, policy.Tokens),
            MinDecimal(task.MaxCost, policy.Cost),
            Min(task.MaxToolCalls, policy.ToolCalls));

    private static string? Exhausted(string scope, long tokens, decimal cost, int toolCalls, long? maxTokens, decimal? maxCost, int? maxToolCalls)
    {
        if (maxToolCalls is { } calls && toolCalls >= calls)
        {
            return $"budget exhausted: {scope} tool calls {toolCalls}/{calls}";
        }

        if (maxTokens is { } t && tokens >= t)
        {
            return $"budget exhausted: {scope} tokens {tokens}/{t}";
        }

        return maxCost is { } c && cost >= c ? $"budget exhausted: {scope} cost {cost:0.####}/{c:0.####}" : null;
    }

    private static int? Min(int? a, int? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    private static decimal? MinDecimal(decimal? a, decimal? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);
}
