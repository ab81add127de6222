using Agents.Contracts;
using Agents.ServiceDefaults.Messaging;
using Agents.ToolGateway.Invocation;
using MassTransit;

namespace Agents.ToolGateway.Consumers;

/// <summary>
/// Applies a <see cref="ToolCircuitReset"/> to this instance's in-memory circuit. Every instance has a queue of its own
/// for it (deleted when it stops), configured by hand without the inbox: the inbox would let only the first instance
/// handle a message id.
/// </summary>
internal sealed class ToolCircuitResetConsumer(ToolCircuitBreakers breakers) : IConsumer<ToolCircuitReset>
{
    public static string EndpointName(BusOptions options) =>
        BusConventions.EndpointNameFormatter(options).Consumer<ToolCircuitResetConsumer>() + "-" + Guid.NewGuid().ToString("N")[..12];

    public Task Consume(ConsumeContext<ToolCircuitReset> context)
    {
        breakers.Apply(context.Message);
        return Task.CompletedTask;
    }
}
