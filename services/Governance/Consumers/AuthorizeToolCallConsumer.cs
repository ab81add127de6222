using Agents.Contracts;
using Agents.Governance.Decisions;
using Agents.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Agents.Governance.Consumers;

/// <summary>
/// Answers <see cref="AuthorizeToolCall"/> with <see cref="ToolCallAuthorization"/> (through the outbox, in the transaction
/// of the decision), or, when the request carries its call (<see cref="AuthorizeToolCall.ThenExecute"/>) and the decision
/// is a fresh Allow, sends the call on to the tool's queue instead, in the same transaction, as the answer to the
/// tool-gateway's request: the tool's <see cref="ToolExecutionResult"/> goes straight back to the gateway (decision 0024).
/// </summary>
public sealed class AuthorizeToolCallConsumer(AuthorizationService authorization, IOptions<BusOptions> bus, TimeProvider time) : IConsumer<AuthorizeToolCall>
{
    public async Task Consume(ConsumeContext<AuthorizeToolCall> context)
    {
        var forward = ToolCallForwarding.CanSendOn(context, bus.Value.QueuePrefix, time, out var timeToLive);
        var (answer, sendOn) = await authorization.AuthorizeAsync(context.Message, context.MessageId, forward, context.CancellationToken);
        if (sendOn)
        {
            await ToolCallForwarding.SendOnAsync(context, timeToLive);
            return;
        }

        await context.RespondAsync(answer);
    }
}
