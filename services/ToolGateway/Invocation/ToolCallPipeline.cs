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
internal sealed record CallResult(ToolCallOutcome Outcome, string? OutputJson, string? Error, int Attempts, Guid? ApprovalId = null, bool Permanent = false, bool ErrorFromTool = false, DateTimeOffset? RetryAt = null);

/// <summary>
/// Authorizes and executes one validated tool call, attempt by attempt. An attempt takes the tool's circuit permit first,
/// then asks governance with the call attached (<see cref="AuthorizeToolCall.ThenExecute"/>): governance sends an
/// allowed call on to the tool's own queue itself, and the tool's <see cref="ToolExecutionResult"/> answers the request
/// (decision 0024). A refusal comes back as <see cref="ToolCallAuthorization"/>, and so does an Allow that was not sent on
/// (a governance that predates it, or a decision made before for the same request key): the gateway then sends
/// <see cref="ExecuteTool"/> itself. Governance is asked on every attempt, retries included; not answering is never a
/// denial. ReadOnly and Idempotent tools are retried on transient failures and timeouts with exponential backoff and
/// jitter; Mutating tools get exactly one attempt (the executor may re-invoke with the same idempotency key, which the
/// tool deduplicates). An open circuit is reported only to a caller governance allows. A timeout during which this
/// process was starved (<see cref="OwnLateness"/>) is not counted against the tool's circuit.
/// </summary>
internal sealed class ToolCallPipeline(
    IRequestClient<AuthorizeToolCall> authorizer,
    IScopedClientFactory clients,
    ToolCircuitBreakers breakers,
    OwnLateness lateness,
    ToolGatewayTelemetry telemetry,
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
            var request = Authorization(call, tool, argumentsHash, $"{callId:N}:{attempts + 1}");
            var permit = circuit.TryAcquire();
            if (permit == CircuitPermit.Refused)
            {
                // Governance still decides first: a caller without permission learns nothing about the tool's health.
                var (authorization, unauthorized) = await AuthorizeAsync(request, tool, time.GetTimestamp(), cancellationToken);
                if (Refusal(authorization, unauthorized, attempts, call) is { } refusal)
                {
                    return refusal;
                }

                var snapshot = circuit.Snapshot();
                var reason = $"The circuit of tool '{tool.Name}' is open after {snapshot.ConsecutiveFailures} consecutive failures; it lets a trial call through after {snapshot.OpenUntil:O}.";
                return last is null
                    ? new CallResult(ToolCallOutcome.CircuitOpen, null, reason, attempts, call.ApprovalId, RetryAt: snapshot.OpenUntil)
                    : new CallResult(last.Outcome, null, last.Error + " " + reason, attempts, call.ApprovalId, ErrorFromTool: last.FromTool, RetryAt: snapshot.OpenUntil);
            }

            Attempt attempt;
            var attemptStarted = lateness.Now();
            try
            {
                var run = await AuthorizeAndExecuteAsync(request, call, tool, callId, settings.ToolTimeout(tool.TimeoutSeconds), attempts, cancellationToken);
                if (run.Refusal is not null)
                {
                    circuit.Release(permit);
                    return run.Refusal;
                }

                attempt = run.Attempt!;
            }
            catch
            {
                circuit.Release(permit);
                throw;
            }

            attempts++;
            if (attempt.Outcome == ToolCallOutcome.TimedOut && lateness.Starved(attemptStarted, out var behind))
            {
                // The machine, not (only) the tool, was late: still a timeout, retried as one, but the circuit is not
                // opened by a load the tool did not cause.
                logger.LogWarning(
                    "Tool {Tool} timed out while this gateway's own timers were {Behind:0.###} s behind; not counted against its circuit.",
                    tool.Name, behind.TotalSeconds);
                attempt = attempt with { Error = attempt.Error + $" This gateway's own timers were {behind.TotalSeconds:0.###} s behind meanwhile (a starved machine); the timeout was not counted against the tool's circuit." };
                circuit.Release(permit);
                telemetry.TimeoutNotCounted(tool.Name);
            }
            else if ((attempt.Transient ? circuit.RecordFailure(permit) : circuit.RecordSuccess(permit)) is { } changed)
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
    /// One attempt holding a circuit permit: governance is asked with the call attached and, allowing it, sends it on to the
    /// tool, whose answer (or fault) comes back to this request; the request waits for the authorization and the tool's
    /// timeout together. An Allow answered instead (not sent on) runs the tool from here. No answer in time: governance is
    /// asked again without the call and with the same request key, which gets the decision if one was made. An Allow that
    /// was sent on means the tool had the call and did not answer in time (a timeout, as when the gateway sends the call);
    /// one that was not (decided only now, the first request still waiting in governance's queue, which will get the stored
    /// answer and send nothing) runs the tool from here.
    /// </summary>
    private async Task<AttemptRun> AuthorizeAndExecuteAsync(AuthorizeToolCall request, InvokeTool call, RegisteredTool tool, Guid callId, TimeSpan timeout, int attempts, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var execute = new ExecuteTool(callId, call.TaskId, call.StepId, call.Principal, tool.Name, call.ArgumentsJson, call.IdempotencyKey, call.Compensate);
        var queue = ToolEndpoints.QueueAddress(tool.Name, bus.Value.QueuePrefix);
        var waitFor = options.Value.AuthorizationTimeout + timeout;
        var answer = await authorizer.AskAsync<AuthorizeToolCall, ToolCallAuthorization, ToolExecutionResult, Fault<ExecuteTool>>(
            // An undo is authorized as the call it undoes, which governance's check of the forwarded call cannot tell apart:
            // the gateway sends a compensation itself.
            call.Compensate ? request : request with { ThenExecute = execute, ThenExecuteAt = queue },
            RequestTimeout.After(ms: (int)waitFor.TotalMilliseconds),
            cancellationToken);
        switch (answer)
        {
            case { Failure: RequestFailure.None, Message: ToolExecutionResult result }:
                return new AttemptRun(Outcome(tool, new RequestAnswer<ToolExecutionResult>(result, RequestFailure.None, null, null), timeout), null);
            case { Failure: RequestFailure.None, Message: Fault<ExecuteTool> fault }:
                return new AttemptRun(Outcome(tool, new RequestAnswer<ToolExecutionResult>(null, RequestFailure.Faulted, fault.Exceptions.FirstOrDefault()?.Message, null), timeout), null);
            case { Failure: RequestFailure.None, Message: ToolCallAuthorization decided }:
                return Refusal(decided, null, attempts, call) is { } refused
                    ? new AttemptRun(null, refused)
                    : new AttemptRun(await ExecuteAsync(execute, tool, queue, timeout, cancellationToken), null);
            case { Failure: RequestFailure.Faulted }:
                return new AttemptRun(null, Refusal(null, GovernanceFaulted(answer.Error), attempts, call));
        }

        logger.LogWarning(answer.Exception, "Neither governance nor tool {Tool} answered the authorized call in time ({Failure}); asking governance again.", tool.Name, answer.Failure);
        var (authorization, unauthorized) = await AuthorizeAsync(request, tool, started, cancellationToken);
        if (Refusal(authorization, unauthorized, attempts, call) is { } refusal)
        {
            return new AttemptRun(null, refusal);
        }

        return authorization!.Forwarded
            ? new AttemptRun(Outcome(tool, new RequestAnswer<ToolExecutionResult>(null, RequestFailure.TimedOut, null, null), timeout), null)
            : new AttemptRun(await ExecuteAsync(execute, tool, queue, timeout, cancellationToken), null);
    }

    /// <summary>The end of the call when governance did not allow it (or could not be heard); null when it allowed it.</summary>
    private static CallResult? Refusal(ToolCallAuthorization? authorization, string? unauthorized, int attempts, InvokeTool call) => authorization?.Decision switch
    {
        null => new CallResult(ToolCallOutcome.Failed, null, unauthorized, attempts, call.ApprovalId),
        AuthorizationDecision.Allow => null,
        AuthorizationDecision.Deny => new CallResult(ToolCallOutcome.Denied, null, authorization.Reason, attempts, call.ApprovalId),
        AuthorizationDecision.RequireApproval => new CallResult(ToolCallOutcome.ApprovalRequired, null, authorization.Reason, attempts, authorization.ApprovalId ?? call.ApprovalId),
        _ => new CallResult(ToolCallOutcome.Denied, null, $"Governance answered an unknown decision '{authorization.Decision}'; the call was refused.", attempts, call.ApprovalId),
    };

    private static AuthorizeToolCall Authorization(InvokeTool call, RegisteredTool tool, string argumentsHash, string requestKey) => new(
        call.TaskId, call.StepId, call.Principal, tool.Name, tool.SideEffect, tool.Risk, tool.RequiredScope,
        call.ArgumentsJson, argumentsHash, call.ArgumentsTainted, call.TaskAllowedTools, call.ApprovalId, requestKey,
        call.TaintedArguments, tool.ArgumentClasses, tool.SendsDataOut);

    private static string GovernanceFaulted(string? error) => "Governance failed to process the authorization request (" + error + "); nothing was run.";

    /// <summary>
    /// Governance's decision on <paramref name="request"/> (which carries no call). Governance that does not answer (slow,
    /// restarting) is asked again with the same request key until <see cref="ToolGatewayOptions.AuthorizationPatience"/>
    /// has passed since <paramref name="since"/>, so a late decision is taken once and reserves nothing twice. Without a
    /// decision (no answer in time, or governance failed to process the request) the call fails with the reason; it is not
    /// denied, since a denial is only ever governance's decision.
    /// </summary>
    private async Task<(ToolCallAuthorization? Decision, string? Failure)> AuthorizeAsync(AuthorizeToolCall request, RegisteredTool tool, long since, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var pause = settings.BaseDelay;
        while (true)
        {
            var answer = await authorizer.AskAsync<AuthorizeToolCall, ToolCallAuthorization>(request, RequestTimeout.After(ms: (int)settings.AuthorizationTimeout.TotalMilliseconds), cancellationToken);
            switch (answer.Failure)
            {
                case RequestFailure.None:
                    return (answer.Message!, null);
                case RequestFailure.Faulted:
                    return (null, GovernanceFaulted(answer.Error));
            }

            if (time.GetElapsedTime(since) >= settings.AuthorizationPatience)
            {
                return (null, $"Governance could not be reached or did not answer within {settings.AuthorizationPatience.TotalSeconds:0.###} s (ToolGateway:AuthorizationPatience); nothing was run.");
            }

            logger.LogWarning(answer.Exception, "Governance did not answer the authorization of tool {Tool} ({Failure}); asking again.", tool.Name, answer.Failure);
            await Task.Delay(pause, time, cancellationToken);
            pause = pause * 2 > settings.MaxDelay ? settings.MaxDelay : pause * 2;
        }
    }

    private async Task<Attempt> ExecuteAsync(ExecuteTool request, RegisteredTool tool, Uri queue, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var client = clients.CreateRequestClient<ExecuteTool>(queue);
        var answer = await client.AskAsync<ExecuteTool, ToolExecutionResult>(request, RequestTimeout.After(ms: (int)timeout.TotalMilliseconds), cancellationToken);
        if (answer.Failure == RequestFailure.Unreachable)
        {
            logger.LogWarning(answer.Exception, "Sending ExecuteTool to {Queue} failed.", queue);
        }

        return Outcome(tool, answer, timeout);
    }

    /// <summary>An attempt's outcome from the tool's answer, or why there is none, wherever the call was sent from.</summary>
    private static Attempt Outcome(RegisteredTool tool, RequestAnswer<ToolExecutionResult> answer, TimeSpan timeout) => answer switch
    {
        { Failure: RequestFailure.None, Message.Succeeded: true } => new Attempt(ToolCallOutcome.Succeeded, answer.Message.OutputJson, null, false),
        { Failure: RequestFailure.None } => new Attempt(ToolCallOutcome.Failed, null, $"Tool '{tool.Name}' failed: {answer.Message!.Error ?? "no reason given"}", answer.Message.Transient, FromTool: true),
        { Failure: RequestFailure.TimedOut } => new Attempt(ToolCallOutcome.TimedOut, null, $"Tool '{tool.Name}' did not answer within {timeout.TotalSeconds:0.###} s.", true),
        { Failure: RequestFailure.Faulted } => new Attempt(ToolCallOutcome.Failed, null, $"Tool '{tool.Name}' faulted: {answer.Error}", true),
        _ => new Attempt(ToolCallOutcome.Failed, null, $"Tool '{tool.Name}' could not be reached: {answer.Error}", true),
    };

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

    /// <summary>An attempt that reached the tool (or timed out waiting for it), or the end of the call without one.</summary>
    private sealed record AttemptRun(Attempt? Attempt, CallResult? Refusal);
}
