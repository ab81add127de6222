using Agents.Contracts;
using MassTransit;

namespace Agents.Tools.Sdk.Hosting;

/// <summary>A catalog that started after this tool service asks for announcements: announce at once.</summary>
internal sealed class RequestToolAnnouncementsConsumer(ToolAnnouncer announcer) : IConsumer<RequestToolAnnouncements>
{
    public Task Consume(ConsumeContext<RequestToolAnnouncements> context)
    {
        announcer.RequestAnnouncement();
        return Task.CompletedTask;
    }
}
