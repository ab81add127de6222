using Agents.Contracts;
using Agents.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Agents.Tools.Sdk.Execution;

/// <summary>
/// Consumes <see cref="ExecuteTool"/> on the tool's own queue and always answers with a
/// <see cref="ToolExecutionResult"/>: a failure is a result, never a silent drop.
/// </summary>
internal sealed class ExecuteToolConsumer<TTool, TInput, TOutput>(
    ToolInvoker<TTool, TInput, TOutput> invoker,
    ILogger<ExecuteToolConsumer<TTool, TInput, TOutput>> logger) : IConsumer<ExecuteTool>
    where TTool : class, ITool<TInput, TOutput>
    where TInput : notnull
    where TOutput : notnull
{
    public Task Consume(ConsumeContext<ExecuteTool> context) =>
        ToolCallRunner.AnswerAsync(context, token => invoker.InvokeAsync(context.Message, token), logger);
}
/// <summary>Puts the consumer on <see cref="ToolEndpoints.QueueName"/> and binds the queue to nothing else.</summary>
internal sealed class ExecuteToolConsumerDefinition<TTool, TInput, TOutput> : ConsumerDefinition<ExecuteToolConsumer<TTool, TInput, TOutput>>
    where TTool : class, ITool<TInput, TOutput>
    where TInput : notnull
    where TOutput : notnull
{
    public ExecuteToolConsumerDefinition(IEnumerable<ToolDefinition> tools, IOptions<BusOptions> bus)
    {
        var tool = tools.Single(t => t.ToolType == typeof(TTool));
        EndpointName = ToolEndpoints.QueueName(tool.Name, bus.Value.QueuePrefix);
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<ExecuteToolConsumer<TTool, TInput, TOutput>> consumerConfigurator,
        IRegistrationContext context)
    {
        // Calls are sent to this queue by the tool-gateway; a published ExecuteTool must not reach every tool.
        endpointConfigurator.ConfigureConsumeTopology = false;
    }
}
