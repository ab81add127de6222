using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Agents.Models.Replay;

/// <summary>
/// Returns recorded responses instead of calling a model, so that a recorded run can be replayed from its
/// event log. Responses are found either by call index (the n-th call gets the n-th recording) or by
/// <see cref="ChatRequestHash"/> of the request. When no recording matches, the call goes to the
/// fallback client if one was given, otherwise it fails with <see cref="ReplayMissException"/>.
/// </summary>
/// <remarks>
/// Each replayed response is a copy of the recording with <c>AdditionalProperties["agents.replayed"] = true</c>;
/// the recording itself is never modified. Put the platform pipeline around it with
/// <c>new ReplayChatClient(...).AsBuilder().UseAgentsModelPipeline(role, maxOutputTokens).Build(services)</c>
/// when the replay should also emit spans and usage (of the recorded tokens).
/// </remarks>
public sealed class ReplayChatClient : IChatClient
{
    /// <summary>Key set to true in the <see cref="ChatResponse.AdditionalProperties"/> of a replayed response.</summary>
    public const string ReplayedProperty = "agents.replayed";

    /// <summary>The provider name reported in metadata when there is no fallback.</summary>
    public const string ProviderName = "replay";

    private readonly IReadOnlyList<ChatResponse>? _sequence;
    private readonly IReadOnlyDictionary<string, ChatResponse>? _byHash;
    private readonly IChatClient? _fallback;
    private readonly ChatClientMetadata _metadata;
    private int _sequenceCalls;
    private int _replayed;

    /// <summary>Replays <paramref name="recordedInOrder"/> by call index.</summary>
    public ReplayChatClient(IEnumerable<ChatResponse> recordedInOrder, IChatClient? fallback = null)
        : this(fallback)
    {
        _sequence = recordedInOrder.ToList();
    }

    /// <summary>Replays recordings keyed by <see cref="ChatRequestHash.Compute"/> of their request.</summary>
    public ReplayChatClient(IReadOnlyDictionary<string, ChatResponse> recordedByRequestHash, IChatClient? fallback = null)
        : this(fallback)
    {
        _byHash = recordedByRequestHash;
    }

    private ReplayChatClient(IChatClient? fallback)
    {
        _fallback = fallback;
        var fallbackMetadata = fallback?.GetService<ChatClientMetadata>();
        _metadata = new ChatClientMetadata(ProviderName, fallbackMetadata?.ProviderUri, fallbackMetadata?.DefaultModelId);
    }

    /// <summary>Calls answered from recordings so far.</summary>
    public int ReplayedCount => Volatile.Read(ref _replayed);

    /// <inheritdoc />
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        cancellationToken.ThrowIfCancellationRequested();
        var messageList = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        if (Find(messageList, options, out var miss) is { } recorded)
        {
            Interlocked.Increment(ref _replayed);
            return Task.FromResult(Copy(recorded));
        }

        return _fallback is not null
            ? _fallback.GetResponseAsync(messageList, options, cancellationToken)
            : Task.FromException<ChatResponse>(new ReplayMissException(miss));
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var messageList = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        if (Find(messageList, options, out var miss) is { } recorded)
        {
            Interlocked.Increment(ref _replayed);
            foreach (var update in Copy(recorded).ToChatResponseUpdates())
            {
                yield return update;
            }

            yield break;
        }

        if (_fallback is null)
        {
            throw new ReplayMissException(miss);
        }

        await foreach (var update in _fallback.GetStreamingResponseAsync(messageList, options, cancellationToken))
        {
            yield return update;
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceKey is null && serviceType.IsInstanceOfType(this) ? this
            : _fallback?.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private ChatResponse? Find(IReadOnlyList<ChatMessage> messages, ChatOptions? options, out string miss)
    {
        if (_sequence is not null)
        {
            var index = Interlocked.Increment(ref _sequenceCalls) - 1;
            miss = $"No recorded response for call {index + 1}: the recording has {_sequence.Count}.";
            return index < _sequence.Count ? _sequence[index] : null;
        }

        var hash = ChatRequestHash.Compute(messages, options);
        miss = $"No recorded response for the request with hash {hash}.";
        return _byHash!.TryGetValue(hash, out var recorded) ? recorded : null;
    }

    private static ChatResponse Copy(ChatResponse recorded)
    {
        var properties = recorded.AdditionalProperties is null ? [] : new AdditionalPropertiesDictionary(recorded.AdditionalProperties);
        properties[ReplayedProperty] = true;
        return new ChatResponse(recorded.Messages.Select(m => m.Clone()).ToList())
        {
            ResponseId = recorded.ResponseId,
            ConversationId = recorded.ConversationId,
            ModelId = recorded.ModelId,
            CreatedAt = recorded.CreatedAt,
            FinishReason = recorded.FinishReason,
            Usage = recorded.Usage is null ? null : new UsageDetails
            {
                InputTokenCount = recorded.Usage.InputTokenCount,
                OutputTokenCount = recorded.Usage.OutputTokenCount,
                TotalTokenCount = recorded.Usage.TotalTokenCount,
            },
            AdditionalProperties = properties,
        };
    }
}

/// <summary>A replayed run asked for a model call that was not recorded.</summary>
public sealed class ReplayMissException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public ReplayMissException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public ReplayMissException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
