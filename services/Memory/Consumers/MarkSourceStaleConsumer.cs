using Agents.Contracts;
using Agents.Memory.Memories;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Memory.Consumers;

/// <summary>
/// Marks the memories from a source stale, for one user or the whole tenant (as <c>POST /api/memories/sources/stale</c>
/// does for the caller). Marking is idempotent: a redelivery finds nothing left to mark.
/// </summary>
public sealed class MarkSourceStaleConsumer(MemoryStore store, ILogger<MarkSourceStaleConsumer> logger) : IConsumer<MarkSourceStale>
{
    public async Task Consume(ConsumeContext<MarkSourceStale> context)
    {
        var message = context.Message;
        if (string.IsNullOrWhiteSpace(message.TenantId) || message.TenantId.Length > MemoryLimits.MaxKeyLength)
        {
            throw new PermanentFailureException($"MarkSourceStale.TenantId must be 1 to {MemoryLimits.MaxKeyLength} characters.");
        }

        if (message.UserId is not null && (message.UserId.Length == 0 || message.UserId.Length > MemoryLimits.MaxKeyLength))
        {
            throw new PermanentFailureException($"MarkSourceStale.UserId must be null (the whole tenant) or 1 to {MemoryLimits.MaxKeyLength} characters.");
        }

        if (string.IsNullOrWhiteSpace(message.Source) || message.Source.Length > MemoryLimits.MaxSourceLength)
        {
            throw new PermanentFailureException($"MarkSourceStale.Source must be 1 to {MemoryLimits.MaxSourceLength} characters.");
        }

        var marked = await store.MarkSourceStaleAsync(message.TenantId, message.UserId, message.Source, context.CancellationToken);
        logger.LogInformation("Marked {Count} memories from {Source} stale (tenant {TenantId}, user {UserId})", marked, message.Source, message.TenantId, message.UserId ?? "(all)");
    }
}
