using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Models.Pipeline;

/// <summary>The pipeline every role's client is built with; usable on any client (e.g. a replay client).</summary>
public static class ModelPipelineExtensions
{
    /// <summary>
    /// Adds, outermost first: the output-token cap (<see cref="BoundedOutputChatClient"/>), the default
    /// temperature, GenAI OpenTelemetry (<c>chat {model}</c> spans and <c>gen_ai.client.*</c> metrics on
    /// <see cref="ModelTelemetry.SourceName"/>) and usage accounting (<see cref="UsageAccountingChatClient"/>).
    /// The price table, metrics and clock come from the service provider passed to
    /// <see cref="ChatClientBuilder.Build"/>, with an empty table, no metrics and the system clock when absent.
    /// </summary>
    public static ChatClientBuilder UseAgentsModelPipeline(this ChatClientBuilder builder, string role, int maxOutputTokens, float? defaultTemperature = null)
    {
        builder.Use(inner => new BoundedOutputChatClient(inner, maxOutputTokens));
        if (defaultTemperature is { } temperature)
        {
            builder.ConfigureOptions(options => options.Temperature ??= temperature);
        }

        return builder
            .UseOpenTelemetry(sourceName: ModelTelemetry.SourceName)
            .Use((inner, services) => new UsageAccountingChatClient(
                inner,
                role,
                services.GetService<ModelPriceTable>() ?? ModelPriceTable.Empty,
                services.GetService<ModelMetrics>(),
                services.GetService<TimeProvider>() ?? TimeProvider.System));
    }
}
