using Agents.Contracts;
using Agents.ToolGateway.Data;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Agents.ToolGateway.Invocation;

/// <summary>
/// Runs a tool call whose record <see cref="Consumers.InvokeToolConsumer"/> has just started: registry lookup, schema
/// validation, then <see cref="ToolCallPipeline"/> (authorization, timeouts, retries, circuit breaker), with no
/// database transaction open. Then, in one short transaction, the call record gets its outcome (a read's record is
/// written only now) and the
/// <see cref="ToolCallCompleted"/> answer becomes an outbox row. A run whose record was meanwhile closed or taken
/// over (a newer InvokeTool for the same key, or a redelivery of its own message after this one's connection was
/// lost) writes nothing.
/// </summary>
internal sealed partial class ToolCallRunner(
    IServiceScopeFactory scopes,
    ToolLookup lookup,
    ArgumentsValidator validator,
    ToolCallPipeline pipeline,
    ToolGatewayTelemetry telemetry,
    TimeProvider time,
    IOptions<ToolGatewayOptions> options,
    ILogger<ToolCallRunner> logger)
{
    public async Task RunAsync(RunToolCall run, CancellationToken cancellationToken)
    {
        var call = run.Call;
        using var activity = ToolGatewayTelemetry.StartExecuteTool(call.Tool ?? string.Empty);

        var tool = await lookup.FindAsync(call.Tool, cancellationToken);
        var result = await DecideAsync(call, tool, run.ArgumentsHash, run.CallId, cancellationToken);
        var (untrusted, untrustedFields) = RegisteredTool.OutputTrust(tool);
        var completed = new ToolCallCompleted(
            call.TaskId, call.StepId, call.Tool ?? string.Empty, result.Outcome, result.OutputJson, result.Error, untrusted, result.Attempts,
            Math.Round((time.GetUtcNow() - run.ReceivedAt).TotalMilliseconds, 3), result.ApprovalId ?? call.ApprovalId, call.Compensate,
            tool?.SideEffect, tool?.Compensable, result.Permanent, untrustedFields, result.ErrorFromTool, result.RetryAt);

        // A scope of its own: its publish endpoint is the bus outbox, so the answer commits with the record.
        await using var scope = scopes.CreateAsyncScope();
        var scoped = scope.ServiceProvider.GetRequiredService<ToolGatewayDbContext>();
        await using (var transaction = await scoped.Database.BeginTransactionAsync(cancellationToken))
        {
            var record = await scoped.LockCallAsync(call.IdempotencyKey, call.Compensate, cancellationToken);
            if (!run.Recorded)
            {
                if (record is not null && (record.LastMessageId == run.MessageId || record.Outcome is null))
                {
                    // Another run of this very message (a second delivery) wrote its outcome first and answered, or a
                    // recorded run of the key is going and will answer.
                    LogStale(run.CallId, call.IdempotencyKey, record.Outcome is null ? "a recorded run is going" : "answered by another run of the read");
                    return;
                }

                // A new key, or one whose record another InvokeTool (an earlier attempt of the step) closed while this
                // read ran: this message gets its own answer, and the record the latest outcome.
                if (record is null)
                {
                    record = ToolCallRecord.For(call, run.ArgumentsHash);
                    scoped.ToolCalls.Add(record);
                }

                record.Start(call, run.ArgumentsHash, run.CallId, run.MessageId, run.ReceivedAt);
            }
            else if (!record.IsRunning(run.CallId))
            {
                LogStale(run.CallId, call.IdempotencyKey, record is null ? "no record" : record.Outcome?.ToString() ?? "taken over");
                return;
            }

            await record!.CompleteAsync(
                completed,
                run,
                scope.ServiceProvider.GetRequiredService<ISendEndpointProvider>(),
                scope.ServiceProvider.GetRequiredService<IPublishEndpoint>(),
                time.GetUtcNow(),
                cancellationToken);
            await scoped.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        telemetry.Completed(activity, completed, run.CallId, replayed: false);
    }

    private async Task<CallResult> DecideAsync(InvokeTool call, RegisteredTool? tool, string argumentsHash, Guid callId, CancellationToken cancellationToken)
    {
        if (tool is null)
        {
            return new CallResult(ToolCallOutcome.UnknownTool, null, $"No tool named '{call.Tool}' is registered (tools register themselves by announcing on start).", 0, call.ApprovalId);
        }

        if (ToolRegistry.Unavailable(tool, options.Value.StaleAfter, time.GetUtcNow()) is { } unavailable)
        {
            return new CallResult(unavailable.Outcome, null, unavailable.Reason, 0, call.ApprovalId);
        }

        if (call.Compensate && !tool.Compensable)
        {
            return new CallResult(ToolCallOutcome.Failed, null, $"Tool '{tool.Name}' is not compensable; nothing was called.", 0, call.ApprovalId);
        }

        var errors = validator.Validate(tool.InputSchema, call.ArgumentsJson);
        if (errors.Count > 0)
        {
            return new CallResult(ToolCallOutcome.InvalidArguments, null, string.Join("; ", errors), 0, call.ApprovalId);
        }

        return await pipeline.RunAsync(call, tool, argumentsHash, callId, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Tool call {CallId} (key {IdempotencyKey}) is no longer the current run ({State}); nothing to do")]
    private partial void LogStale(Guid callId, string idempotencyKey, string state);
}
