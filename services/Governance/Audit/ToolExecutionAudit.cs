using Agents.Contracts;
using Agents.Governance.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Audit;

/// <summary>
/// Appends one audit entry per tool execution reported by the tool-gateway (<see cref="ToolCallCompleted"/>)
/// to the chain of the tenant that admitted the task. The message carries no principal: the tenant and the
/// user come from the task's ledger row. Runs in the consumer's inbox transaction.
/// </summary>
public sealed partial class ToolExecutionAudit(GovernanceDbContext db, AuditLog audit, TimeProvider time, ILogger<ToolExecutionAudit> logger)
{
    /// <summary>Longest tool error kept in the audit entry's reason.</summary>
    public const int MaxReasonLength = 2000;

    /// <summary>Records <paramref name="message"/> once per <paramref name="messageId"/>; false when skipped (seen before, or an unknown task).</summary>
    public async Task<bool> RecordAsync(ToolCallCompleted message, Guid messageId, CancellationToken cancellationToken)
    {
        InboxTransaction.Require(db, "Tool execution audit");
        var task = await db.Tasks.AsNoTracking().SingleOrDefaultAsync(t => t.TaskId == message.TaskId, cancellationToken);
        if (task is null)
        {
            LogUnknownTask(logger, message.TaskId, message.Tool, message.StepId);
            return false;
        }

        // The inbox skips a redelivery; this key also covers one arriving after the inbox retention window.
        var key = $"tool-executed:{messageId}";
        var inserted = await db.Database.ExecuteSqlInterpolatedAsync(
            $"INSERT INTO processed_messages (key, processed_at) VALUES ({key}, {time.GetUtcNow()}) ON CONFLICT DO NOTHING",
            cancellationToken);
        if (inserted == 0)
        {
            return false;
        }

        var reason = message.Error is { Length: > MaxReasonLength } error ? error[..MaxReasonLength] + "…" : message.Error;
        await audit.AppendAsync(
            task.TenantId,
            task.UserId,
            ActionOf(message),
            $"tool/{message.Tool}",
            message.TaskId,
            message.Outcome.ToString(),
            reason,
            new
            {
                stepId = message.StepId,
                tool = message.Tool,
                outcome = message.Outcome.ToString(),
                attempts = message.Attempts,
                durationMs = message.DurationMs,
                untrusted = message.Untrusted,
                compensation = message.Compensation,
                approvalId = message.ApprovalId,
                messageId,
            },
            cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// The entry's action names what happened: only a call the tool answered is <c>tool.executed</c> (or
    /// <c>tool.compensated</c>); a call that never reached the tool says why (<c>tool.awaiting-approval</c>,
    /// <c>tool.denied</c>, ...), and one that failed or timed out says so.
    /// </summary>
    public static string ActionOf(ToolCallCompleted message)
    {
        var what = message.Outcome switch
        {
            ToolCallOutcome.Succeeded => "executed",
            ToolCallOutcome.Failed => "failed",
            ToolCallOutcome.TimedOut => "timed-out",
            ToolCallOutcome.InvalidArguments => "invalid-arguments",
            ToolCallOutcome.UnknownTool => "unknown-tool",
            ToolCallOutcome.Denied => "denied",
            ToolCallOutcome.ApprovalRequired => "awaiting-approval",
            ToolCallOutcome.CircuitOpen => "circuit-open",
            _ => message.Outcome.ToString().ToLowerInvariant(),
        };
        return !message.Compensation ? $"tool.{what}"
            : message.Outcome == ToolCallOutcome.Succeeded ? "tool.compensated"
            : $"tool.compensation-{what}";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "ToolCallCompleted for unknown task {TaskId} (tool {Tool}, step {StepId}): no admission record, so no tenant to audit it under; skipped.")]
    private static partial void LogUnknownTask(ILogger logger, Guid taskId, string tool, string stepId);
}
