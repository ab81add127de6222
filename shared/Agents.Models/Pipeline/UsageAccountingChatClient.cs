using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Agents.Models.Pipeline;

/// <summary>
/// Computes the <see cref="ModelUsage"/> of every call (tokens reported by the provider, cost from the
/// <see cref="ModelPriceTable"/>, duration from the <see cref="TimeProvider"/>), attaches it to the response
/// (<see cref="ModelUsageExtensions.GetModelUsage"/>), sets <c>agents.cost</c> on the current GenAI span and
/// records the <c>agents.model.tokens</c> and <c>agents.model.cost</c> metrics.
/// </summary>
/// <remarks>Place it inside the OpenTelemetry client so that the current activity is the <c>chat</c> span.</remarks>
public sealed class UsageAccountingChatClient : DelegatingChatClient
{
    private readonly string _role;
    private readonly ModelPriceTable _prices;
    private readonly ModelMetrics? _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly string _provider;
    private readonly string? _defaultModel;

    /// <summary>Wraps <paramref name="innerClient"/>; <paramref name="metrics"/> may be null to record no metrics.</summary>
    public UsageAccountingChatClient(IChatClient innerClient, string role, ModelPriceTable prices, ModelMetrics? metrics, TimeProvider timeProvider)
        : base(innerClient)
    {
        _role = role;
        _prices = prices;
        _metrics = metrics;
        _timeProvider = timeProvider;
        var metadata = innerClient.GetService<ChatClientMetadata>();
        _provider = metadata?.ProviderName ?? "unknown";
        _defaultModel = metadata?.DefaultModelId;
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var started = _timeProvider.GetTimestamp();
        var response = await base.GetResponseAsync(messages, options, cancellationToken);
        var usage = Account(response.Usage, response.ModelId, options, _timeProvider.GetElapsedTime(started));
        response.AdditionalProperties ??= [];
        response.AdditionalProperties[ModelUsage.PropertyKey] = usage;
        return response;
    }

    /// <inheritdoc />
    /// <remarks>The usage arrives in a last update with no contents; <c>updates.ToChatResponse().GetModelUsage()</c> reads it.</remarks>
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var started = _timeProvider.GetTimestamp();
        UsageDetails? reported = null;
        string? modelId = null;
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            modelId ??= update.ModelId;
            foreach (var content in update.Contents)
            {
                if (content is UsageContent usageContent)
                {
                    reported ??= new UsageDetails();
                    reported.Add(usageContent.Details);
                }
            }

            yield return update;
        }

        var usage = Account(reported, modelId, options, _timeProvider.GetElapsedTime(started));
        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            ModelId = modelId,
            AdditionalProperties = new() { [ModelUsage.PropertyKey] = usage },
        };
    }

    private ModelUsage Account(UsageDetails? reported, string? responseModel, ChatOptions? options, TimeSpan duration)
    {
        var requestedModel = options?.ModelId ?? _defaultModel;
        var model = responseModel ?? requestedModel ?? "unknown";
        var input = reported?.InputTokenCount ?? 0;
        var output = reported?.OutputTokenCount ?? 0;
        var priced = _prices.TryGetPrice(responseModel, out var price) || _prices.TryGetPrice(requestedModel, out price);
        var cost = priced ? price!.CostOf(input, output) : 0m;
        var usage = new ModelUsage(_role, _provider, model, input, output, cost, priced, duration);

        if (Activity.Current is { } activity && activity.Source.Name == ModelTelemetry.SourceName)
        {
            activity.SetTag(ModelTelemetry.CostAttribute, (double)cost);
            activity.SetTag(ModelTelemetry.RoleTag, _role);
        }

        _metrics?.Record(usage);
        return usage;
    }
}
