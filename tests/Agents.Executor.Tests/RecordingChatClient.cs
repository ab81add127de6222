using Agents.Models;
using Agents.Models.Deterministic;
using Agents.Models.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Executor.Tests;

/// <summary>
/// The models library's deterministic client with its usage/cost pipeline (as the service builds it), wrapped to
/// remember what the model worker asked and what it got back, so tests can check prompts and token caps.
/// </summary>
public sealed class RecordingChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    /// <summary>Price of the deterministic model in the tests: 1,000 currency units per million tokens, in and out.</summary>
    public const decimal PricePerMillion = 1000m;

    /// <summary>The price table of the tests (the executor reserves budgets with it too).</summary>
    public static ModelPriceTable Prices { get; } = new(new Dictionary<string, ModelPrice>
    {
        [ModelOptions.DeterministicModelId] = new() { InputPerMillion = PricePerMillion, OutputPerMillion = PricePerMillion },
    });

    public List<(IReadOnlyList<ChatMessage> Messages, ChatOptions? Options, ChatResponse Response)> Calls { get; } = [];

    /// <summary>When set, the answer's text is replaced by what this returns for it (another model's answer, say).</summary>
    public Func<string, string>? Rewrite { get; set; }

    /// <summary>Deterministic provider + the library pipeline for the executor role, priced at <see cref="PricePerMillion"/>.</summary>
    public static RecordingChatClient CreateDeterministic()
    {
        var services = new ServiceCollection().AddSingleton(Prices).BuildServiceProvider();
        var client = new DeterministicChatClient()
            .AsBuilder()
            .UseAgentsModelPipeline(ModelRoles.Executor, DeterministicChatClient.DefaultMaxOutputTokens)
            .Build(services);
        return new RecordingChatClient(client);
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages.ToList();
        var response = await base.GetResponseAsync(list, options, cancellationToken);
        if (Rewrite is { } rewrite)
        {
            response.Messages = [new ChatMessage(ChatRole.Assistant, rewrite(response.Text))];
        }
        lock (Calls)
        {
            Calls.Add((list, options, response));
        }

        return response;
    }
}
