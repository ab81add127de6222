using Agents.Contracts;
using Agents.Planner.Catalog;
using Agents.ServiceDefaults.Messaging;
using MassTransit;

namespace Agents.Planner.Consumers;

/// <summary>Keeps the planner's own tool catalog up to date from tool announcements.</summary>
internal sealed class ToolAnnouncedConsumer(ToolCatalog catalog) : IConsumer<ToolAnnounced>
{
    public async Task Consume(ConsumeContext<ToolAnnounced> context)
    {
        var tool = context.Message.Tool ?? throw new PermanentFailureException("ToolAnnounced has no tool descriptor.");
        if (!ToolEndpoints.IsValidName(tool.Name))
        {
            throw new PermanentFailureException($"ToolAnnounced: invalid tool name '{tool.Name}' (lower-case letters, digits, '.', '-', '_'; at most 64).");
        }

        if (string.IsNullOrWhiteSpace(tool.InputSchema))
        {
            throw new PermanentFailureException($"ToolAnnounced: tool '{tool.Name}' has no input schema.");
        }

        await catalog.UpsertAsync(context.Message, context.CancellationToken);
    }
}
