using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Agents.Planner.Planning;

/// <summary>
/// The planner's offline model: answers planning requests with <see cref="KeywordPlanner"/> (not intelligent).
/// It reads the structured <see cref="PlanningRequest"/> the planner passes in the chat options; any other
/// request is refused. Registered as the keyed "planner" chat client unless another one is.
/// </summary>
internal sealed class OfflinePlanningChatClient : IChatClient
{
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var request = options?.AdditionalProperties?.TryGetValue(ModelPlanner.RequestProperty, out var value) == true ? value as PlanningRequest : null;
        if (request is null)
        {
            throw new InvalidOperationException($"The offline planning model answers only planning requests (ChatOptions.AdditionalProperties['{ModelPlanner.RequestProperty}']).");
        }

        var text = JsonSerializer.Serialize(KeywordPlanner.Plan(request), PlannerJson.Options);
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, text)) { ModelId = "offline-keyword-planner" });
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

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}
