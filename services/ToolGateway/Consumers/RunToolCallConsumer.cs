using Agents.Contracts;
using Agents.ServiceDefaults.Messaging;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Invocation;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.ToolGateway.Consumers;

/// <summary>
/// Runs a tool call that <see cref="InvokeToolConsumer"/> recorded: registry lookup, schema validation,
/// then <see cref="ToolCallPipeline"/> (authorization, timeouts, retries, circuit breaker), with no
/// database transaction open. Then, in one short transaction, the call record gets its outcome and the
/// <see cref="ToolCallCompleted"/> answer becomes an outbox row. Its endpoint has no inbox: a redelivery
/// (a crash during the call) finds the record still running and calls again with the same idempotency
/// key, which the tool deduplicates; a redelivery after the commit finds the outcome and does nothing.
/// A run whose record was since taken over by a newer InvokeTool for the same key stands down; one that keeps
/// failing (after the bus's retries) is answered <c>Failed</c> by <see cref="RunToolCallFaultConsumer"/>.
/// </summary>
internal sealed partial class RunToolCallConsumer(
    IServiceScopeFactory scopes,
    ToolGatewayDbContext db,
    ArgumentsValidator validator,
    ToolCallPipeline pipeline,
    ToolGatewayTelemetry telemetry,
    TimeProvider time,
    IOptions<ToolGatewayOptions> options,
    ILogger<RunToolCallConsumer> logger) : IConsumer<RunToolCall>
{
    /// <summary>The queue of this consumer (configured by hand, without the inbox).</summary>
    public static string EndpointName(BusOptions options) => BusConventions.EndpointNameFormatter(options).Consumer<RunToolCallConsumer>();

    public async Task Consume(ConsumeContext<RunToolCall> context)
    {
        var run = context.Message;
        var call = run.Call;
        var cancellationToken = context.CancellationToken;
        using var activity = ToolGatewayTelemetry.StartExecuteTool(call.Tool ?? string.Empty);

        var current = await db.ToolCalls.AsNoTracking()
            .SingleOrDefaultAsync(c => c.IdempotencyKey == call.IdempotencyKey && c.Compensation == call.Compensate, cancellationToken);
        if (!current.IsRunning(run.CallId))
        {
            LogStale(run.CallId, call.IdempotencyKey, StateOf(current));
            return;
        }

        var tool = await db.Tools.AsNoTracking().SingleOrDefaultAsync(t => t.Name == call.Tool, cancellationToken);
        var result = await DecideAsync(call, tool, run.ArgumentsHash, run.CallId, cancellationToken);
        var completed = new ToolCallCompleted(
            call.TaskId, call.StepId, call.Tool ?? string.Empty, result.Outcome, result.OutputJson, result.Error, Untrusted: true, result.Attempts,
            Math.Round((time.GetUtcNow() - run.ReceivedAt).TotalMilliseconds, 3), result.ApprovalId ?? call.ApprovalId, call.Compensate,
            tool?.SideEffect, tool?.Compensable, result.Permanent);

        // A scope of its own: its publish endpoint is the bus outbox, so the answer commits with the record.
        await using var scope = scopes.CreateAsyncScope();
        var scoped = scope.ServiceProvider.GetRequiredService<ToolGatewayDbContext>();
        await using (var transaction = await scoped.Database.BeginTransactionAsync(cancellationToken))
        {
            var record = await scoped.LockCallAsync(call.IdempotencyKey, call.Compensate, cancellationToken);
            if (!record.IsRunning(run.CallId))
            {
                LogStale(run.CallId, call.IdempotencyKey, StateOf(record));
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

    private static string StateOf(ToolCallRecord? record) =>
        record is null ? "no record" : record.Outcome?.ToString() ?? "taken over";

    [LoggerMessage(Level = LogLevel.Information, Message = "Tool call {CallId} (key {IdempotencyKey}) is no longer the current run ({State}); nothing to do")]
    private partial void LogStale(Guid callId, string idempotencyKey, string state);
}
