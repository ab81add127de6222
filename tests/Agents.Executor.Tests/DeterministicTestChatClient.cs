using Microsoft.Extensions.AI;

namespace Agents.Executor.Tests;

/// <summary>
/// A fake model for tests (the model is the one truly external dependency): answers deterministically with a
/// short digest of the prompt, reports word counts as tokens and a fixed cost, and remembers what it was asked.
/// </summary>
public sealed class DeterministicTestChatClient : IChatClient
{
    public const decimal CostPerCall = 0.002m;

    public List<(IReadOnlyList<ChatMessage> Messages, ChatOptions? Options)> Calls { get; } = [];

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages.ToList();
        lock (Calls)
        {
            Calls.Add((list, options));
        }

        var prompt = list.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? string.Empty;
        var output = "draft: " + new string(prompt.Take(80).ToArray());
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, output))
        {
            ModelId = "test-deterministic",
            Usage = new UsageDetails
            {
                InputTokenCount = list.Sum(m => m.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length),
                OutputTokenCount = output.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length,
            },
            AdditionalProperties = new AdditionalPropertiesDictionary { ["cost"] = CostPerCall },
        };
        return Task.FromResult(response);
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The executor does not stream.");

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
