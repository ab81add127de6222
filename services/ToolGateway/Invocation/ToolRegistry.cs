using Agents.Contracts;
using Agents.ToolGateway.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Agents.ToolGateway.Invocation;

/// <summary>Whether a registered tool is offered and called: active, stale (stopped announcing) or retired by an operator.</summary>
public enum ToolStatus
{
    /// <summary>Announced within <see cref="ToolGatewayOptions.StaleAfter"/>.</summary>
    Active,

    /// <summary>Not announced for longer than <see cref="ToolGatewayOptions.StaleAfter"/>: its host is probably gone; calls fail at once.</summary>
    Stale,

    /// <summary>Retired by an operator: not offered, calls fail at once, until it is reinstated.</summary>
    Retired,
}

/// <summary>The registry's rules about a tool's life: stale, retired, and its circuit moved by announcements or operators.</summary>
internal static class ToolRegistry
{
    public static ToolStatus StatusOf(RegisteredTool tool, TimeSpan staleAfter, DateTimeOffset now) =>
        tool.RetiredAt is not null ? ToolStatus.Retired
        : now - tool.LastSeenAt > staleAfter ? ToolStatus.Stale
        : ToolStatus.Active;

    /// <summary>Why a call of <paramref name="tool"/> fails without being tried (null: it may be called).</summary>
    public static (ToolCallOutcome Outcome, string Reason)? Unavailable(RegisteredTool tool, TimeSpan staleAfter, DateTimeOffset now) =>
        StatusOf(tool, staleAfter, now) switch
        {
            ToolStatus.Retired => (ToolCallOutcome.UnknownTool, $"Tool '{tool.Name}' was retired by {tool.RetiredBy} at {tool.RetiredAt:O}; nothing was called."),
            ToolStatus.Stale => (ToolCallOutcome.Failed, $"Tool '{tool.Name}' is stale: it has not announced itself since {tool.LastSeenAt:O} (more than {staleAfter}), so its host is probably down; nothing was called."),
            _ => null,
        };

    /// <summary>
    /// Moves <paramref name="tool"/>'s circuit: <paramref name="close"/> closes it (an operator's reset); otherwise an open
    /// circuit's break ends now (the tool announced itself again), so the next call is the trial. Changes the row in
    /// <paramref name="db"/> and publishes <see cref="ToolCircuitReset"/> (both saved by the caller, the publish through the
    /// outbox) for every instance's in-memory circuit. False when there was nothing to move.
    /// </summary>
    public static async Task<bool> ResetCircuitAsync(
        ToolGatewayDbContext db, IPublishEndpoint publish, string tool, bool close, string by, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var row = await db.Circuits.SingleOrDefaultAsync(c => c.Tool == tool, cancellationToken);
        if (row is null || row.State == CircuitState.Closed && row.ConsecutiveFailures == 0)
        {
            return false;
        }

        if (close)
        {
            row.State = CircuitState.Closed;
            row.ConsecutiveFailures = 0;
            row.OpenedAt = null;
            row.OpenUntil = null;
        }
        else if (row.State == CircuitState.Open && row.OpenUntil > now)
        {
            row.OpenUntil = now;
        }
        else
        {
            return false;
        }

        row.UpdatedAt = now;
        row.UpdatedBy = by.Length > 200 ? by[..200] : by;
        await publish.Publish(new ToolCircuitReset(tool, close, by, now), cancellationToken);
        return true;
    }
}
