using Agents.Governance.Data;
using Agents.Governance.Policies;
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

    public async Task<DailyUsage> LockDailyAsync(string tenantId, DateOnly day, string userId, CancellationToken cancellationToken)
    {
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"INSERT INTO daily_usage (tenant_id, day, user_id, tokens, cost, tool_calls) VALUES ({tenantId}, {day}, {userId}, 0, 0, 0) ON CONFLICT DO NOTHING",
            cancellationToken);
        return (await db.DailyUsage
            .FromSqlInterpolated($"SELECT * FROM daily_usage WHERE tenant_id = {tenantId} AND day = {day} AND user_id = {userId} FOR UPDATE")
            .ToListAsync(cancellationToken)).Single();
    }

    public Task<DailyUsage?> ReadDailyAsync(string tenantId, DateOnly day, string userId, CancellationToken cancellationToken) =>
        db.DailyUsage.AsNoTracking().SingleOrDefaultAsync(d => d.TenantId == tenantId && d.Day == day && d.UserId == userId, cancellationToken);

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
