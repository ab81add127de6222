using Microsoft.Extensions.AI;

namespace Agents.Models.Pipeline;

/// <summary>
/// Caps <see cref="ChatOptions.MaxOutputTokens"/> of every call at the role's <c>MaxOutputTokens</c>:
/// a caller may ask for fewer tokens, never more, and a caller that asks for nothing gets the cap.
/// The caller's <see cref="ChatOptions"/> instance is never modified.
/// </summary>
public sealed class BoundedOutputChatClient : DelegatingChatClient
{
    /// <summary>Wraps <paramref name="innerClient"/> with a cap of <paramref name="maxOutputTokens"/> output tokens.</summary>
    public BoundedOutputChatClient(IChatClient innerClient, int maxOutputTokens)
        : base(innerClient)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxOutputTokens, 1);
        MaxOutputTokens = maxOutputTokens;
    }

    /// <summary>The cap.</summary>
    public int MaxOutputTokens { get; }

    /// <inheritdoc />
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        base.GetResponseAsync(messages, Bound(options), cancellationToken);

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        base.GetStreamingResponseAsync(messages, Bound(options), cancellationToken);

    private ChatOptions Bound(ChatOptions? options)
    {
        var bounded = options?.Clone() ?? new ChatOptions();
        var requested = options?.MaxOutputTokens ?? MaxOutputTokens;
        bounded.MaxOutputTokens = Math.Clamp(requested, 1, MaxOutputTokens);
        return bounded;
    }
}
