using Agents.Contracts;
using Agents.Memory.Data;
using Agents.Memory.Memories;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Memory.Consumers;

/// <summary>Stores a semantic fact with its provenance. The fact id is the memory id, so a redelivery stores nothing twice.</summary>
public sealed class RememberFactConsumer(MemoryStore store) : IConsumer<RememberFact>
{
    public async Task Consume(ConsumeContext<RememberFact> context)
    {
        var message = context.Message;
        var scope = MemoryLimits.ScopeOf(message.Principal);
        if (message.FactId == Guid.Empty)
        {
            throw new PermanentFailureException("RememberFact.FactId is empty; give each fact a new id.");
        }

        if (string.IsNullOrWhiteSpace(message.Text) || message.Text.Length > MemoryLimits.MaxTextLength)
        {
            throw new PermanentFailureException($"RememberFact.Text must be 1 to {MemoryLimits.MaxTextLength} characters.");
        }

        if (string.IsNullOrWhiteSpace(message.Source) || message.Source.Length > MemoryLimits.MaxSourceLength)
        {
            throw new PermanentFailureException($"RememberFact.Source must be 1 to {MemoryLimits.MaxSourceLength} characters (a URL, task or tool that the fact came from).");
        }

        if (!Enum.IsDefined(message.Trust))
        {
            throw new PermanentFailureException($"RememberFact.Trust '{message.Trust}' is not a trust level.");
        }

        if (message.SourceStepId is { Length: > MemoryLimits.MaxKeyLength })
        {
            throw new PermanentFailureException($"RememberFact.SourceStepId is longer than {MemoryLimits.MaxKeyLength} characters.");
        }

        await store.StoreAsync(
            scope,
            new NewMemory(message.FactId, MemoryKinds.Semantic, message.Text, message.Source, message.Trust, message.SourceTaskId, message.SourceStepId),
            context.CancellationToken);
    }
}
