using Agents.Contracts;
using Agents.Executor.StateMachines;
using MassTransit;

namespace Agents.Executor.Consumers;

/// <summary>Keeps the executor's tool catalog (side-effect class, compensable) from tool announcements.</summary>
public sealed class ToolAnnouncedConsumer(ToolCatalog catalog) : IConsumer<ToolAnnounced>
{
    public Task Consume(ConsumeContext<ToolAnnounced> context)
    {
        catalog.Add(context.Message.Tool);
        return Task.CompletedTask;
    }
}
