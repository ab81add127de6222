using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Agents.Contracts;
using Agents.ServiceDefaults.Messaging;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Invocation;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.ToolGateway.Consumers;

/// <summary>
/// Handles one <see cref="InvokeTool"/>, which gets exactly one <see cref="ToolCallCompleted"/> (published, or
/// sent to the requester when there is one). Its endpoint has no inbox (decision 0004): in one short transaction it
/// answers at once what needs no tool (a malformed message; a call that already succeeded with the same arguments,
/// from its record; a reused key), leaves a call that is already running to its run, or starts the call record (a read
/// of a new key starts none: its record is written with its outcome); then,
/// with no transaction open, <see cref="ToolCallRunner"/> asks governance and the tool and commits the outcome with the
/// answer. The record is the message's idempotence: a message whose record it started and closed is answered already
/// (through the outbox, with the outcome); a second delivery of it while its run is going is left to that run; a
/// retry or a broker redelivery (its first run's connection is gone) runs it again under the same call id, and the
/// tool deduplicates by the idempotency key.
/// </summary>
internal sealed class InvokeToolConsumer(
    ToolGatewayDbContext db,
    ToolCallRunner runner,
    ToolLookup lookup,
    IOptions<ToolGatewayOptions> options,
    ToolGatewayTelemetry telemetry,
    TimeProvider time,
    ILogger<InvokeToolConsumer> logger) : IConsumer<InvokeTool>
{
    /// <summary>The queue of this consumer (configured by hand, without the inbox).</summary>
    public static string EndpointName(BusOptions options) => BusConventions.EndpointNameFormatter(options).Consumer<InvokeToolConsumer>();

    public async Task Consume(ConsumeContext<InvokeTool> context)
    {
        var call = context.Message;
        if (call.TaskId == Guid.Empty || string.IsNullOrWhiteSpace(call.StepId))
        {
            throw new PermanentFailureException("InvokeTool needs a TaskId and a StepId; there is nobody to answer without them.");
        }

        var started = time.GetTimestamp();
        var malformed = Malformed(call);
        if (malformed is not null)
        {
            await AnswerAsync(context, Completed(call, ToolCallOutcome.Failed, null, malformed, 0, Elapsed(started)), Guid.NewGuid(), replayed: false);
            return;
        }

        var run = await StartAsync(context, HashArguments(call.ArgumentsJson), started);
        if (run is not null)
        {
            await runner.RunAsync(run, context.CancellationToken);
        }
    }

    /// <summary>The run to make, or null when the message is answered (or will be, by the run that has it).</summary>
    private async Task<RunToolCall?> StartAsync(ConsumeContext<InvokeTool> context, string argumentsHash, long started)
    {
        var call = context.Message;
        var cancellationToken = context.CancellationToken;
        var read = !call.Compensate && (await lookup.FindAsync(call.Tool, cancellationToken))?.SideEffect == SideEffectClass.ReadOnly;
        if (read && !await db.ToolCalls.AsNoTracking().AnyAsync(r => r.IdempotencyKey == call.IdempotencyKey && r.Compensation == call.Compensate, cancellationToken))
        {
            // A read of a new key claims nothing before it runs (no transaction, two commits fewer per read): a second
            // delivery meanwhile runs the read again, which changes nothing, and the first outcome written answers (see
            // ToolCallRunner). A key with a record goes the locked way below.
            return new RunToolCall(Guid.NewGuid(), call, argumentsHash, time.GetUtcNow(), context.ResponseAddress, context.RequestId, Recorded: false, MessageId: context.MessageId);
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // Locked until this transaction commits: a run that is finishing, or another InvokeTool, waits here.
        var record = await db.LockCallAsync(call.IdempotencyKey, call.Compensate, cancellationToken);
        var now = time.GetUtcNow();
        var young = record is not null && now - record.StartedAt < options.Value.LongestCall;
        if (record is not null && context.MessageId is { } messageId && record.LastMessageId == messageId)
        {
            if (record.Outcome is not null)
            {
                // Closed by the run of this very message: its answer was stored with the outcome (outbox) and is sent.
                logger.LogInformation("InvokeTool {Key} (message {MessageId}) was answered already ({Outcome}); nothing to do.", call.IdempotencyKey, messageId, record.Outcome);
                return null;
            }

            if (young)
            {
                if (!context.ReceiveContext.Redelivered && context.GetRetryAttempt() == 0)
                {
                    logger.LogInformation("InvokeTool {Key} (message {MessageId}) arrived again while its run is going; that run answers.", call.IdempotencyKey, messageId);
                    return null;
                }

                // A retry, or the broker's redelivery after the first run's connection was lost: run it again, same call id.
                return new RunToolCall(record.CallId, call, argumentsHash, record.StartedAt, context.ResponseAddress, context.RequestId);
            }
        }
        else if (record is { Outcome: null } && IsSameCall(record, call, argumentsHash) && young)
        {
            // The same call is running (a step retried while its first call is still out): that run answers, and the
            // executor correlates answers by task and step. Taking it over would run the tool twice at once.
            logger.LogInformation("InvokeTool {Key} for tool {Tool}: the call started at {StartedAt} is still running; its answer will serve.", call.IdempotencyKey, call.Tool, record.StartedAt);
            return null;
        }
        else if (record?.Outcome is not null)
        {
            if (IsSameSucceededCall(record, call, argumentsHash))
            {
                logger.LogInformation("InvokeTool {Key} for tool {Tool} was already answered ({Outcome}); republishing the stored result.", call.IdempotencyKey, call.Tool, record.Outcome);
                var tool = await lookup.FindAsync(record.Tool, cancellationToken);
                var (untrusted, untrustedFields) = RegisteredTool.OutputTrust(tool);
                await AnswerAsync(context, record.ToCompleted() with { SideEffect = tool?.SideEffect, Compensable = tool?.Compensable, Untrusted = untrusted, UntrustedFields = untrustedFields }, record.CallId, replayed: true);
                return null;
            }

            if (record.Outcome == ToolCallOutcome.Succeeded)
            {
                var conflict = $"The idempotency key '{call.IdempotencyKey}' already belongs to a successful call of tool '{record.Tool}' (task {record.TaskId}, step '{record.StepId}') with other arguments; the tool was not called again.";
                await AnswerAsync(context, Completed(call, ToolCallOutcome.Failed, null, conflict, 0, Elapsed(started)), Guid.NewGuid(), replayed: false);
                return null;
            }
        }

        var callId = Guid.NewGuid();
        await StartRecordAsync(record, call, argumentsHash, callId, context.MessageId, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new RunToolCall(callId, call, argumentsHash, now, context.ResponseAddress, context.RequestId);
    }

    private async Task StartRecordAsync(ToolCallRecord? record, InvokeTool call, string argumentsHash, Guid callId, Guid? messageId, CancellationToken cancellationToken)
    {
        if (record is null)
        {
            record = ToolCallRecord.For(call, argumentsHash);
            db.ToolCalls.Add(record);
        }

        record.Start(call, argumentsHash, callId, messageId, time.GetUtcNow());
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>Answers without running the tool (straight to the broker: a repeated answer is ignored by the executor, which takes one result per running step).</summary>
    private async Task AnswerAsync(ConsumeContext<InvokeTool> context, ToolCallCompleted completed, Guid callId, bool replayed)
    {
        using (var activity = ToolGatewayTelemetry.StartExecuteTool(context.Message.Tool ?? string.Empty))
        {
            telemetry.Completed(activity, completed, callId, replayed);
        }

        // Without a ResponseAddress this publishes (the executor's saga correlates by TaskId).
        await context.RespondAsync(completed);
    }

    private static bool IsSameSucceededCall(ToolCallRecord record, InvokeTool call, string argumentsHash) =>
        record.Outcome == ToolCallOutcome.Succeeded && IsSameCall(record, call, argumentsHash);

    private static bool IsSameCall(ToolCallRecord record, InvokeTool call, string argumentsHash) =>
        record.TaskId == call.TaskId
        && string.Equals(record.StepId, call.StepId, StringComparison.Ordinal)
        && string.Equals(record.Tool, call.Tool, StringComparison.Ordinal)
        && string.Equals(record.ArgumentsHash, argumentsHash, StringComparison.Ordinal);

    private static string? Malformed(InvokeTool call)
    {
        if (call.Principal is null || string.IsNullOrWhiteSpace(call.Principal.TenantId) || string.IsNullOrWhiteSpace(call.Principal.UserId))
        {
            return "InvokeTool carries no principal (tenant and user); the call was refused.";
        }

        if (string.IsNullOrWhiteSpace(call.IdempotencyKey) || call.IdempotencyKey.Length > IdempotencyKeys.MaxLength)
        {
            return $"InvokeTool needs an IdempotencyKey of 1 to {IdempotencyKeys.MaxLength} characters; the call was refused.";
        }

        if (string.IsNullOrWhiteSpace(call.Tool) || call.ArgumentsJson is null)
        {
            return "InvokeTool needs a Tool and ArgumentsJson; the call was refused.";
        }

        return call.StepId.Length > 200 ? "InvokeTool's StepId is longer than 200 characters; the call was refused." : null;
    }

    /// <summary>The record's hash of the arguments: canonical JSON, or the raw text when it is not JSON.</summary>
    internal static string HashArguments(string argumentsJson)
    {
        try
        {
            return ArgumentsHasher.Compute(argumentsJson);
        }
        catch (JsonException)
        {
            // Not JSON: validation rejects it; the record still gets a stable hash of the raw text.
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(argumentsJson)));
        }
    }

    private double Elapsed(long started) => time.GetElapsedTime(started).TotalMilliseconds;

    private static ToolCallCompleted Completed(InvokeTool call, ToolCallOutcome outcome, string? output, string? error, int attempts, double durationMs, Guid? approvalId = null) =>
        new(call.TaskId, call.StepId, call.Tool ?? string.Empty, outcome, output, error, Untrusted: true, attempts, Math.Round(durationMs, 3), approvalId ?? call.ApprovalId, call.Compensate);
}
