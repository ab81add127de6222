using Agents.Contracts;
using MassTransit;

namespace Agents.ServiceDefaults.Messaging;

/// <summary>
/// How an allowed tool call reaches its tool by way of its authorization (<see cref="AuthorizeToolCall.ThenExecute"/>):
/// the decider sends the call on as the answer to the tool-gateway's request, so the tool answers the gateway directly.
/// </summary>
public static class ToolCallForwarding
{
    /// <summary>
    /// Whether a fresh Allow of <paramref name="context"/>'s request may be sent on to its tool: the request carries the
    /// call, the requester waits for an answer (a request id and a response address) and has time left.
    /// <paramref name="timeToLive"/>: what is left of the request's time to live (null when it has none), for the call sent
    /// on. A call that is not the one being authorized (another task, step, tool, principal or arguments), or addressed to
    /// another queue than that tool's, is refused with <see cref="PermanentFailureException"/>: the decider vouches only for
    /// what it decided.
    /// </summary>
    public static bool CanSendOn(ConsumeContext<AuthorizeToolCall> context, string? queuePrefix, TimeProvider time, out TimeSpan? timeToLive)
    {
        timeToLive = null;
        var request = context.Message;
        if (request.ThenExecute is null && request.ThenExecuteAt is null)
        {
            return false;
        }

        if (Mismatch(request, queuePrefix) is { } problem)
        {
            throw new PermanentFailureException(
                $"AuthorizeToolCall for task {request.TaskId}, step '{request.StepId}', tool '{request.Tool}' carries a call it does not authorize: {problem}.");
        }

        if (context.RequestId is null || context.ResponseAddress is null)
        {
            return false;
        }

        if (context.ExpirationTime is not { } expires)
        {
            return true;
        }

        // A requester that has stopped waiting asks again with the same key and gets the decision to run the call itself.
        timeToLive = expires - time.GetUtcNow().UtcDateTime;
        return timeToLive > TimeSpan.Zero;
    }

    /// <summary>
    /// Sends the request's call on to its tool with the request's request id, response address (also for faults) and
    /// <paramref name="timeToLive"/>. Inside an inbox consumer it goes through the outbox, in the transaction of the decision.
    /// </summary>
    public static async Task SendOnAsync(ConsumeContext<AuthorizeToolCall> context, TimeSpan? timeToLive)
    {
        var request = context.Message;
        var tool = await context.GetSendEndpoint(request.ThenExecuteAt!);
        await tool.Send(
            request.ThenExecute!,
            send =>
            {
                send.RequestId = context.RequestId;
                send.ResponseAddress = context.ResponseAddress;
                send.FaultAddress = context.FaultAddress ?? context.ResponseAddress;
                if (timeToLive is { } ttl)
                {
                    send.TimeToLive = ttl;
                }
            },
            context.CancellationToken);
    }

    private static string? Mismatch(AuthorizeToolCall request, string? queuePrefix)
    {
        if (request.ThenExecute is not { } call || request.ThenExecuteAt is not { } address)
        {
            return "it needs both the call (ThenExecute) and its tool's queue (ThenExecuteAt)";
        }

        if (call.TaskId != request.TaskId || !string.Equals(call.StepId, request.StepId, StringComparison.Ordinal)
            || !string.Equals(call.Tool, request.Tool, StringComparison.Ordinal))
        {
            return $"the call is for task {call.TaskId}, step '{call.StepId}', tool '{call.Tool}'";
        }

        if (call.Principal is null || request.Principal is null
            || !string.Equals(call.Principal.TenantId, request.Principal.TenantId, StringComparison.Ordinal)
            || !string.Equals(call.Principal.UserId, request.Principal.UserId, StringComparison.Ordinal)
            || !call.Principal.Roles.SequenceEqual(request.Principal.Roles, StringComparer.Ordinal))
        {
            return "the call is made for another principal";
        }

        if (!string.Equals(call.ArgumentsJson, request.ArgumentsJson, StringComparison.Ordinal))
        {
            return "the call's arguments are not the arguments authorized";
        }

        return ToolEndpoints.IsValidName(request.Tool) && address == ToolEndpoints.QueueAddress(request.Tool, queuePrefix)
            ? null
            : $"it is addressed to {address}, not to the tool's queue";
    }
}
