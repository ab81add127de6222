using Agents.Contracts;
using Agents.Governance.Decisions;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>Answers <see cref="AuthorizeToolCall"/> with <see cref="ToolCallAuthorization"/> (through the outbox, in the transaction of the decision).</summary>
public sealed class AuthorizeToolCallConsumer(AuthorizationService authorization) : IConsumer<AuthorizeToolCall>
{
    public async Task Consume(ConsumeContext<AuthorizeToolCall> context)
    {
        var result = await authorization.AuthorizeAsync(context.Message, context.MessageId, context.CancellationToken);
        await context.RespondAsync(result);
    }
}
