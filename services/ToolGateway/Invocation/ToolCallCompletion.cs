using Agents.Contracts;
using Agents.ToolGateway.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Agents.ToolGateway.Invocation;

/// <summary>Reading a call record under lock, and closing it with its one answer (shared by the consumers of a call).</summary>
internal static class ToolCallCompletion
{
    /// <summary>The record of a key, locked until the current transaction ends.</summary>
    public static Task<ToolCallRecord?> LockCallAsync(this ToolGatewayDbContext db, string idempotencyKey, bool compensation, CancellationToken cancellationToken) =>
        db.ToolCalls
            .FromSql($"SELECT * FROM tool_calls WHERE idempotency_key = {idempotencyKey} AND compensation = {compensation} FOR UPDATE")
            .AsTracking()
            .SingleOrDefaultAsync(cancellationToken);

    /// <summary>True when <paramref name="record"/> is still running the call <paramref name="callId"/>.</summary>
    public static bool IsRunning(this ToolCallRecord? record, Guid callId) =>
        record is not null && record.CallId == callId && record.Outcome is null;

    /// <summary>Writes the outcome and stores the answer (sent to the requester, else published) through the given outbox-backed endpoints.</summary>
    public static async Task CompleteAsync(
        this ToolCallRecord record, ToolCallCompleted completed, RunToolCall run, ISendEndpointProvider sender, IPublishEndpoint publisher, DateTimeOffset now, CancellationToken cancellationToken)
    {
        record.Outcome = completed.Outcome;
        record.OutputJson = completed.OutputJson;
        record.Error = completed.Error;
        record.Attempts = completed.Attempts;
        record.DurationMs = completed.DurationMs;
        record.ApprovalId = completed.ApprovalId;
        record.CompletedAt = now;

        if (run.ResponseAddress is { } requester)
        {
            var endpoint = await sender.GetSendEndpoint(requester);
            await endpoint.Send(completed, c => c.RequestId = run.RequestId, cancellationToken);
        }
        else
        {
            // The executor's saga correlates the answer by TaskId.
            await publisher.Publish(completed, cancellationToken);
        }
    }
}
