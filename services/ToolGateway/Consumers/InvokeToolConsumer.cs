using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Agents.Contracts;
using Agents.ServiceDefaults.Messaging;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Invocation;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Agents.ToolGateway.Consumers;

/// <summary>
/// Handles one <see cref="InvokeTool"/> and answers with exactly one <see cref="ToolCallCompleted"/>
/// (published, or sent to the requester when there is one): registry lookup, schema validation,
/// then <see cref="ToolCallPipeline"/>. It runs inside the durable-messaging inbox transaction: the
/// call record and the answer (an outbox row) commit together, and a redelivered message is skipped
/// by the inbox. A later InvokeTool (new message) for a call that succeeded with the same arguments
/// gets the stored answer and the tool is not called again.
/// The transaction stays open while governance and the tool are asked (see README, "Durable messaging").
/// </summary>
internal sealed class InvokeToolConsumer(
    ToolGatewayDbContext db,
    ArgumentsValidator validator,
    ToolCallPipeline pipeline,
    ToolGatewayTelemetry telemetry,
    TimeProvider time,
    ILogger<InvokeToolConsumer> logger) : IConsumer<InvokeTool>
{
    public async Task Consume(ConsumeContext<InvokeTool> context)
    {
        var call = context.Message;
        if (call.TaskId == Guid.Empty || string.IsNullOrWhiteSpace(call.StepId))
        {
            throw new PermanentFailureException("InvokeTool needs a TaskId and a StepId; there is nobody to answer without them.");
        }

        var cancellationToken = context.CancellationToken;
        var started = time.GetTimestamp();
        using var activity = ToolGatewayTelemetry.StartExecuteTool(call.Tool ?? string.Empty);

        var malformed = Malformed(call);
        if (malformed is not null)
        {
            await AnswerAsync(context, activity, Completed(call, ToolCallOutcome.Failed, null, malformed, 0, Elapsed(started)), Guid.NewGuid(), replayed: false);
            return;
        }

        var argumentsHash = HashArguments(call.ArgumentsJson);
        var record = await db.ToolCalls.SingleOrDefaultAsync(c => c.IdempotencyKey == call.IdempotencyKey && c.Compensation == call.Compensate, cancellationToken);
        if (record?.Outcome is not null)
        {
            if (record.LastMessageId == context.MessageId || IsSameSucceededCall(record, call, argumentsHash))
            {
                logger.LogInformation("InvokeTool {Key} for tool {Tool} was already answered ({Outcome}); republishing the stored result.", call.IdempotencyKey, call.Tool, record.Outcome);
                await AnswerAsync(context, activity, record.ToCompleted(), record.CallId, replayed: true);
                return;
            }

            if (record.Outcome == ToolCallOutcome.Succeeded)
            {
                var conflict = $"The idempotency key '{call.IdempotencyKey}' already belongs to a successful call of tool '{record.Tool}' (task {record.TaskId}, step '{record.StepId}') with other arguments; the tool was not called again.";
                await AnswerAsync(context, activity, Completed(call, ToolCallOutcome.Failed, null, conflict, 0, Elapsed(started)), Guid.NewGuid(), replayed: false);
                return;
            }
        }

        var callId = Guid.NewGuid();
        record = await StartRecordAsync(record, call, argumentsHash, callId, context.MessageId, cancellationToken);

        var result = await DecideAsync(call, argumentsHash, callId, cancellationToken);
        var completed = Completed(call, result.Outcome, result.OutputJson, result.Error, result.Attempts, Elapsed(started), result.ApprovalId);

        record.Outcome = completed.Outcome;
        record.OutputJson = completed.OutputJson;
        record.Error = completed.Error;
        record.Attempts = completed.Attempts;
        record.DurationMs = completed.DurationMs;
        record.ApprovalId = completed.ApprovalId;
        record.CompletedAt = time.GetUtcNow();
        await db.SaveChangesAsync(cancellationToken);

        await AnswerAsync(context, activity, completed, callId, replayed: false);
    }

    private async Task<CallResult> DecideAsync(InvokeTool call, string argumentsHash, Guid callId, CancellationToken cancellationToken)
    {
        var tool = await db.Tools.AsNoTracking().SingleOrDefaultAsync(t => t.Name == call.Tool, cancellationToken);
        if (tool is null)
        {
            return new CallResult(ToolCallOutcome.UnknownTool, null, $"No tool named '{call.Tool}' is registered (tools register themselves by announcing on start).", 0, call.ApprovalId);
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

    private async Task<ToolCallRecord> StartRecordAsync(ToolCallRecord? record, InvokeTool call, string argumentsHash, Guid callId, Guid? messageId, CancellationToken cancellationToken)
    {
        if (record is null)
        {
            record = new ToolCallRecord
            {
                IdempotencyKey = call.IdempotencyKey,
                Compensation = call.Compensate,
                StepId = call.StepId,
                TenantId = call.Principal.TenantId,
                UserId = call.Principal.UserId,
                Tool = call.Tool,
                ArgumentsHash = argumentsHash,
            };
            db.ToolCalls.Add(record);
        }

        record.CallId = callId;
        record.TaskId = call.TaskId;
        record.StepId = call.StepId;
        record.TenantId = call.Principal.TenantId;
        record.UserId = call.Principal.UserId;
        record.Tool = call.Tool;
        record.ArgumentsHash = argumentsHash;
        record.LastMessageId = messageId;
        record.Outcome = null;
        record.OutputJson = null;
        record.Error = null;
        record.Attempts = 0;
        record.ApprovalId = call.ApprovalId;
        record.Invocations++;
        record.StartedAt = time.GetUtcNow();
        record.CompletedAt = null;
        await db.SaveChangesAsync(cancellationToken);
        return record;
    }

    private async Task AnswerAsync(ConsumeContext<InvokeTool> context, Activity? activity, ToolCallCompleted completed, Guid callId, bool replayed)
    {
        telemetry.Completed(activity, completed, callId, replayed);

        // Without a ResponseAddress this publishes (the executor's saga correlates by TaskId).
        await context.RespondAsync(completed);
    }

    private static bool IsSameSucceededCall(ToolCallRecord record, InvokeTool call, string argumentsHash) =>
        record.Outcome == ToolCallOutcome.Succeeded
        && record.TaskId == call.TaskId
        && string.Equals(record.StepId, call.StepId, StringComparison.Ordinal)
        && string.Equals(record.Tool, call.Tool, StringComparison.Ordinal)
        && string.Equals(record.ArgumentsHash, argumentsHash, StringComparison.Ordinal);

    private static string? Malformed(InvokeTool call)
    {
        if (call.Principal is null || string.IsNullOrWhiteSpace(call.Principal.TenantId) || string.IsNullOrWhiteSpace(call.Principal.UserId))
        {
            return "InvokeTool carries no principal (tenant and user); the call was refused.";
        }

        if (string.IsNullOrWhiteSpace(call.IdempotencyKey) || call.IdempotencyKey.Length > 200)
        {
            return "InvokeTool needs an IdempotencyKey of 1 to 200 characters; the call was refused.";
        }

        if (string.IsNullOrWhiteSpace(call.Tool) || call.ArgumentsJson is null)
        {
            return "InvokeTool needs a Tool and ArgumentsJson; the call was refused.";
        }

        return call.StepId.Length > 200 ? "InvokeTool's StepId is longer than 200 characters; the call was refused." : null;
    }

    private static string HashArguments(string argumentsJson)
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
