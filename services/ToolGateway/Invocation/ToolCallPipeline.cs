using System.Text;
using System.Text.Json;
using Agents.Contracts;
using Agents.ServiceDefaults.Messaging;
using Agents.ToolGateway.Data;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Agents.ToolGateway.Invocation;

/// <summary>
/// The end of one tool call, before it is recorded and published; <see cref="Permanent"/>: the tool said the same call
/// would fail again; <see cref="ErrorFromTool"/>: the error holds the tool's own words.
/// </summary>
internal sealed record CallResult(ToolCallOutcome Outcome, string? OutputJson, string? Error, int Attempts, Guid? ApprovalId = null, bool Permanent = false, bool ErrorFromTool = false);

/// <summary>
/// Authorizes and executes one validated tool call: before every attempt governance is asked
/// (no answer in time = Denied), the tool's circuit must let the call through, then
/// <see cref="ExecuteTool"/> goes to the tool's own queue with the tool's timeout. ReadOnly and
/// Idempotent tools are retried on transient failures and timeouts with exponential backoff and
/// jitter; Mutating tools get exactly one attempt (the executor may re-invoke with the same
/// idempotency key, which the tool deduplicates).
/// </summary>
internal sealed class ToolCallPipeline(
    IRequestClient<AuthorizeToolCall> authorizer,
    IScopedClientFactory clients,
    ToolCircuitBreakers breakers,
    IOptions<ToolGatewayOptions> options,
    IOptions<BusOptions> bus,
    TimeProvider time,
    ILogger<ToolCallPipeline> logger)
{
    public async Task<CallResult> RunAsync(InvokeTool call, RegisteredTool tool, string argumentsHash, Guid callId, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var retryable = tool.SideEffect is SideEffectClass.ReadOnly or SideEffectClass.Idempotent;
        var maxAttempts = retryable ? settings.MaxAttempts : 1;
        var circuit = await breakers.GetAsync(tool.Name, cancellationToken);
        var attempts = 0;
        Attempt? last = null;

        while (true)
        {
            var (authorization, unauthorized) = await AuthorizeAsync(call, tool, argumentsHash, $"{callId:N}:{attempts + 1}", cancellationToken);
            if (authorization is null)
            {
                return new CallResult(ToolCallOutcome.Failed, null, unauthorized, attempts, call.ApprovalId);
            }

            switch (authorization.Decision)
            {
                case AuthorizationDecision.Deny:
                    return new CallResult(ToolCallOutcome.Denied, null, authorization.Reason, attempts, call.ApprovalId);
                case AuthorizationDecision.RequireApproval:
                    return new CallResult(ToolCallOutcome.ApprovalRequired, null, authorization.Reason, attempts, authorization.ApprovalId ?? call.ApprovalId);
                case AuthorizationDecision.Allow:
                    break;
                default:
                    return new CallResult(ToolCallOutcome.Denied, null, $"Governance answered an unknown decision '{authorization.Decision}'; the call was refused.", attempts, call.ApprovalId);
            }

            var permit = circuit.TryAcquire();
            if (permit == CircuitPermit.Refused)
            {
                var snapshot = circuit.Snapshot();
                var reason = $"The circuit of tool '{tool.Name}' is open after {snapshot.ConsecutiveFailures} consecutive failures; it lets a trial call through after {snapshot.OpenUntil:O}.";
                return last is null
                    ? new CallResult(ToolCallOutcome.CircuitOpen, null, reason, attempts, call.ApprovalId)
                    : new CallResult(last.Outcome, null, last.Error + " " + reason, attempts, call.ApprovalId, ErrorFromTool: last.FromTool);
            }

            attempts++;
            Attempt attempt;
            try
            {
                attempt = await ExecuteAsync(call, tool, callId, settings.ToolTimeout(tool.TimeoutSeconds), cancellationToken);
            }
            catch
            {
                circuit.Release(permit);
                throw;
            }

            var changed = attempt.Transient ? circuit.RecordFailure(permit) : circuit.RecordSuccess(permit);
            if (changed is not null)
            {
                await breakers.PersistAsync(tool.Name, changed, cancellationToken);
            }

            if (attempt.Outcome == ToolCallOutcome.Succeeded)
            {
                return CheckOutput(tool.Name, attempt.OutputJson, attempts, call.ApprovalId, settings.MaxOutputBytes);
            }

            if (!attempt.Transient || attempts >= maxAttempts)
            {
                var suffix = attempt.Transient && maxAttempts > 1 ? $" (after {attempts} attempts)" : string.Empty;
                return new CallResult(attempt.Outcome, null, attempt.Error + suffix, attempts, call.ApprovalId, Permanent: !attempt.Transient, ErrorFromTool: attempt.FromTool);
            }

            last = attempt;
            var delay = Backoff.Delay(attempts, settings.BaseDelay, settings.MaxDelay, Random.Shared.NextDouble());
            logger.LogInformation("Tool {Tool} attempt {Attempt} failed transiently ({Error}); retrying in {Delay}.", tool.Name, attempts, attempt.Error, delay);
            await Task.Delay(delay, time, cancellationToken);
        }
    }

    /// <summary>
    /// Governance's decision on one attempt. Governance that does not answer (slow, restarting) is asked again with the
    /// same request key until <see cref="ToolGatewayOptions.AuthorizationPatience"/> has passed, so a late decision is
    /// taken once and reserves nothing twice. Without a decision (no answer in time, or governance failed to process the
    /// request) the call fails with the reason; it is not denied, since a denial is only ever governance's decision.
    /// </summary>
    private async Task<(ToolCallAuthorization? Decision, string? Failure)> AuthorizeAsync(InvokeTool call, RegisteredTool tool, string argumentsHash, string requestKey, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var request = new AuthorizeToolCall(
            call.TaskId, call.StepId, call.Principal, tool.Name, tool.SideEffect, tool.Risk, tool.RequiredScope,
            call.ArgumentsJson, argumentsHash, call.ArgumentsTainted, call.TaskAllowedTools, call.ApprovalId, requestKey,
            call.TaintedArguments, tool.ArgumentClasses, tool.SendsDataOut);
        var waited = time.GetTimestamp();
        var pause = settings.BaseDelay;
        while (true)
        {
            var answer = await authorizer.AskAsync<AuthorizeToolCall, ToolCallAuthorization>(request, RequestTimeout.After(ms: (int)settings.AuthorizationTimeout.TotalMilliseconds), cancellationToken);
            switch (answer.Failure)
            {
                case RequestFailure.None:
                    return (answer.Message!, null);
                case RequestFailure.Faulted:
                    return (null, "Governance failed to process the authorization request (" + answer.Error + "); nothing was run.");
            }

            if (time.GetElapsedTime(waited) >= settings.AuthorizationPatience)
            {
                return (null, $"Governance could not be reached or did not answer within {settings.AuthorizationPatience.TotalSeconds:0.###} s (ToolGateway:AuthorizationPatience); nothing was run.");
            }

            logger.LogWarning(answer.Exception, "Governance did not answer the authorization of tool {Tool} ({Failure}); asking again.", tool.Name, answer.Failure);
            await Task.Delay(pause, time, cancellationToken);
            pause = pause * 2 > settings.MaxDelay ? settings.MaxDelay : pause * 2;
        }
    }

    private async Task<Attempt> ExecuteAsync(InvokeTool call, RegisteredTool tool, Guid callId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var queue = new Uri("queue:" + ToolEndpoints.QueueName(tool.Name, bus.Value.QueuePrefix));
        var client = clients.CreateRequestClient<ExecuteTool>(queue);
        var request = new ExecuteTool(callId, call.TaskId, call.StepId, call.Principal, tool.Name, call.ArgumentsJson, call.IdempotencyKey, call.Compensate);
        var answer = await client.AskAsync<ExecuteTool, ToolExecutionResult>(request, RequestTimeout.After(ms: (int)timeout.TotalMilliseconds), cancellationToken);
        if (answer.Failure == RequestFailure.Unreachable)
        {
            logger.LogWarning(answer.Exception, "Sending ExecuteTool to {Queue} failed.", queue);
        }

        return answer switch
        {
            { Failure: RequestFailure.None, Message.Succeeded: true } => new Attempt(ToolCallOutcome.Succeeded, answer.Message.OutputJson, null, false),
            { Failure: RequestFailure.None } => new Attempt(ToolCallOutcome.Failed, null, $"Tool '{tool.Name}' failed: {answer.Message!.Error ?? "no reason given"}", answer.Message.Transient, FromTool: true),
            { Failure: RequestFailure.TimedOut } => new Attempt(ToolCallOutcome.TimedOut, null, $"Tool '{tool.Name}' did not answer within {timeout.TotalSeconds:0.###} s.", true),
            { Failure: RequestFailure.Faulted } => new Attempt(ToolCallOutcome.Failed, null, $"Tool '{tool.Name}' faulted: {answer.Error}", true),
            _ => new Attempt(ToolCallOutcome.Failed, null, $"Tool '{tool.Name}' could not be reached: {answer.Error}", true),
        };
    }

    private static CallResult CheckOutput(string tool, string? outputJson, int attempts, Guid? approvalId, int maxOutputBytes)
    {
        if (outputJson is null)
        {
            return new CallResult(ToolCallOutcome.Succeeded, null, null, attempts, approvalId);
        }

        var size = Encoding.UTF8.GetByteCount(outputJson);
        if (size > maxOutputBytes)
        {
            return new CallResult(ToolCallOutcome.Failed, null,
                $"Tool '{tool}' returned {size} bytes of output, more than the limit of {maxOutputBytes} bytes (ToolGateway:MaxOutputBytes); the output was discarded.",
                attempts, approvalId);
        }

        try
        {
            using var _ = JsonDocument.Parse(outputJson);
        }
        catch (JsonException ex)
        {
            return new CallResult(ToolCallOutcome.Failed, null, $"Tool '{tool}' returned output that is not valid JSON ({ex.Message}); the output was discarded.", attempts, approvalId);
        }

        return new CallResult(ToolCallOutcome.Succeeded, outputJson, null, attempts, approvalId);
    }

    private sealed record Attempt(ToolCallOutcome Outcome, string? OutputJson, string? Error, bool Transient, bool FromTool = false);
}
