using Agents.Contracts;
using Agents.Memory.Memories;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Agents.Memory.Consumers;

/// <summary>Answers <see cref="RecallMemories"/> with the principal's relevant memories (tenant and user scoped), trust labels kept.</summary>
public sealed class RecallMemoriesConsumer(MemoryStore store, IOptions<MemoryOptions> options) : IConsumer<RecallMemories>
{
    public async Task Consume(ConsumeContext<RecallMemories> context)
    {
        var message = context.Message;
        var scope = MemoryLimits.ScopeOf(message.Principal);
        if (string.IsNullOrWhiteSpace(message.Query))
        {
            await context.RespondAsync(new MemoriesRecalled(message.TaskId, []));
            return;
        }

        var query = message.Query.Length > MemoryLimits.MaxQueryLength ? message.Query[..MemoryLimits.MaxQueryLength] : message.Query;
        var top = message.Top > 0 ? message.Top : options.Value.Recall.DefaultTop;
        var result = await store.RecallAsync(scope, query, top, null, null, context.CancellationToken);
        var memories = result.Hits
            .Select(h => new RecalledMemory(h.Memory.Id, h.Memory.Kind, h.Memory.Text, h.Score, h.Memory.Source, h.Memory.Trust, h.Memory.CreatedAt))
            .ToList();
        await context.RespondAsync(new MemoriesRecalled(message.TaskId, memories));
    }
}
