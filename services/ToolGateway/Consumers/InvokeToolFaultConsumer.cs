using Agents.Contracts;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Invocation;
using MassTransit;

namespace Agents.ToolGateway.Consumers;

/// <summary>
/// An <see cref="InvokeTool"/> whose run failed inside the gateway after the bus's retries (the message is in the
/// <c>_error</c> queue) still gets its one answer: the record that this message started, if still running, is closed
/// <c>Failed</c> with the reason (a key without a record, such as a read's, gets one, closed <c>Failed</c>), and <see cref="ToolCallCompleted"/> is published in this consumer's inbox
/// transaction. Without it the step would wait for its timeout. (A requester that sent InvokeTool as a request gets
/// the fault itself: MassTransit sends it to the request's response address.)
/// </summary>
internal sealed class InvokeToolFaultConsumer(ToolGatewayDbContext db, TimeProvider time, ILogger<InvokeToolFaultConsumer> logger)
    : IConsumer<Fault<InvokeTool>>
{
    public async Task Consume(ConsumeContext<Fault<InvokeTool>> context)
    {
        var call = context.Message.Message;
        if (string.IsNullOrWhiteSpace(call.IdempotencyKey))
        {
            return;
        }

        var record = await db.LockCallAsync(call.IdempotencyKey, call.Compensate, context.CancellationToken);
        if (record is null)
        {
            // No run of this key wrote a record: a read (its record comes with its outcome), or a run that failed before
            // starting one. Nothing else will answer, and nothing ran that a record would have to cover.
            if (call.TaskId == Guid.Empty || string.IsNullOrWhiteSpace(call.StepId) || call.Principal is null || call.Tool is null || call.ArgumentsJson is null)
            {
                return;
            }

            var hash = InvokeToolConsumer.HashArguments(call.ArgumentsJson);
            record = ToolCallRecord.For(call, hash);
            record.Start(call, hash, Guid.NewGuid(), context.Message.FaultedMessageId, time.GetUtcNow());
            db.ToolCalls.Add(record);
        }
        else if (record.Outcome is not null || record.LastMessageId != context.Message.FaultedMessageId)
        {
            return;
        }

        var reason = context.Message.Exceptions.FirstOrDefault()?.Message ?? "unknown error";
        logger.LogWarning("Tool call {CallId} (key {IdempotencyKey}, tool {Tool}) failed in the tool-gateway: {Reason}", record.CallId, call.IdempotencyKey, call.Tool, reason);
        var completed = new ToolCallCompleted(
            call.TaskId, call.StepId, call.Tool ?? string.Empty, ToolCallOutcome.Failed, null,
            $"The tool-gateway could not complete the call: {reason}", Untrusted: true, record.Attempts,
            Math.Round((time.GetUtcNow() - record.StartedAt).TotalMilliseconds, 3), call.ApprovalId, call.Compensate);
        var run = new RunToolCall(record.CallId, call, record.ArgumentsHash, record.StartedAt, null, null);
        await record.CompleteAsync(completed, run, context, context, time.GetUtcNow(), context.CancellationToken);
        await db.SaveChangesAsync(context.CancellationToken);
    }
}
