using System.Runtime.CompilerServices;
using System.Text.Json;
using Agents.Planner.Planning;
using Microsoft.Extensions.AI;

namespace Agents.Planner.Tests;

/// <summary>
/// A fake of the external planner model (an LLM). A test scripts the answers for goals that contain a marker
/// (the last answer repeats); every call is recorded. Calls without a script are answered by the offline keyword planner, as the deterministic provider would.
/// </summary>
internal sealed class FakePlannerModel : IChatClient
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, Queue<string>> scripts = new(StringComparer.Ordinal);
    private readonly List<RecordedCall> calls = [];

    public void Script(string marker, params string[] answers)
    {
        lock (gate)
        {
            scripts[marker] = new Queue<string>(answers);
        }
    }

    public IReadOnlyList<RecordedCall> CallsFor(string marker)
    {
        lock (gate)
        {
            return calls.Where(c => c.Messages.Any(m => m.Text.Contains(marker, StringComparison.Ordinal))).ToList();
        }
    }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var copy = messages.ToList();
        string? answer = null;
        lock (gate)
        {
            calls.Add(new RecordedCall(copy, options));
            foreach (var (marker, answers) in scripts)
            {
                if (copy.Any(m => m.Role == ChatRole.User && m.Text.Contains(marker, StringComparison.Ordinal)))
                {
                    answer = answers.Count > 1 ? answers.Dequeue() : answers.Peek();
                    break;
                }
            }
        }

        answer ??= options?.AdditionalProperties?.TryGetValue(ModelPlanner.RequestProperty, out var request) == true && request is PlanningRequest planning
            ? JsonSerializer.Serialize(KeywordPlanner.Plan(planning), PlannerJson.Options)
            : throw new InvalidOperationException("The fake planner model answers only planning requests.");
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, answer)));
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var response = await GetResponseAsync(messages, options, cancellationToken);
        foreach (var update in response.ToChatResponseUpdates())
        {
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}

internal sealed record RecordedCall(IReadOnlyList<ChatMessage> Messages, ChatOptions? Options);
