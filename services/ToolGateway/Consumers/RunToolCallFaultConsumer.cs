using Agents.Contracts;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Invocation;
using MassTransit;

namespace Agents.ToolGateway.Consumers;

/// <summary>
/// A <see cref="RunToolCall"/> that failed after the bus's retries (it is in its <c>_error</c> queue) still gets
/// its one answer: the running record is closed <c>Failed</c> with the reason, and <see cref="ToolCallCompleted"/>
/// goes to the requester or is published, in this consumer's inbox transaction. Without it the step would wait
/// for its timeout and a requester would get nothing.
/// </summary>
internal sealed class RunToolCallFaultConsumer(ToolGatewayDbContext db, TimeProvider time, ILogger<RunToolCallFaultConsumer> logger)
    : IConsumer<Fault<RunToolCall>>
{
    public async Task Consume(ConsumeContext<Fault<RunToolCall>> context)
    {
        var run = context.Message.Message;
        var call = run.Call;
        var record = await db.LockCallAsync(call.IdempotencyKey, call.Compensate, context.CancellationToken);
        if (!record.IsRunning(run.CallId))
        {
            return;
        }

        var reason = context.Message.Exceptions.FirstOrDefault()?.Message ?? "unknown error";
        logger.LogWarning("Tool call {CallId} (key {IdempotencyKey}, tool {Tool}) failed in the tool-gateway: {Reason}", run.CallId, call.IdempotencyKey, call.Tool, reason);
        var completed = new ToolCallCompleted(
            call.TaskId, call.StepId, call.Tool ?? string.Empty, ToolCallOutcome.Failed, null,
            $"The tool-gateway could not complete the call: {reason}", Untrusted: true, record!.Attempts,
            Math.Round((time.GetUtcNow() - run.ReceivedAt).TotalMilliseconds, 3), call.ApprovalId, call.Compensate);
        await record.CompleteAsync(completed, run, context, context, time.GetUtcNow(), context.CancellationToken);
        await db.SaveChangesAsync(context.CancellationToken);
    }
}
