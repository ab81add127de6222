using Agents.Contracts;
using Agents.Executor.StateMachines;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Executor.Consumers;

/// <summary>Keeps the executor's tool catalog (side-effect class, compensable) from tool announcements.</summary>
public sealed class ToolAnnouncedConsumer(IToolCatalog catalog) : IConsumer<ToolAnnounced>
{
    public async Task Consume(ConsumeContext<ToolAnnounced> context)
    {
        var tool = context.Message.Tool ?? throw new PermanentFailureException("ToolAnnounced has no tool descriptor.");
        if (!ToolEndpoints.IsValidName(tool.Name))
        {
            throw new PermanentFailureException($"ToolAnnounced: invalid tool name '{tool.Name}' (lower-case letters, digits, '.', '-', '_'; at most 64).");
        }

        await catalog.UpsertAsync(context.Message, context.CancellationToken);
    }
}
