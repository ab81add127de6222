using MassTransit;

namespace Agents.ServiceDefaults.Tests.OtherService;

/// <summary>A consumer with the same class name as another service's, in another namespace.</summary>
public sealed class FlakyConsumer : IConsumer<Work>
{
    public Task Consume(ConsumeContext<Work> context) => Task.CompletedTask;
}
