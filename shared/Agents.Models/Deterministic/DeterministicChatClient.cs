using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Agents.Models.Replay;
using Microsoft.Extensions.AI;

namespace Agents.Models.Deterministic;

/// <summary>
/// The offline model: the same input always gives the same output, with no network and no keys.
/// <para>
/// <b>It is not a language model and it is not intelligent.</b> It exists so that the platform runs,
/// is tested and can be demonstrated without a model server. It answers:
/// </para>
/// <list type="bullet">
/// <item>with the <see cref="IDeterministicResponder"/> selected by
/// <c>ChatOptions.AdditionalProperties["agents.responder"]</c> (<see cref="DeterministicChatOptionsExtensions.WithDeterministicResponder"/>),
/// or else by the name of the requested JSON schema, when one is registered;</item>
/// <item>otherwise, when JSON with a schema is asked for (<c>ChatResponseFormat.ForJsonSchema</c>), with JSON
/// valid against that schema whose values are derived from the prompt;</item>
/// <item>otherwise with a templated digest of the request that quotes its key lines.</item>
/// </list>
/// <para>
/// Token usage is estimated by <see cref="DeterministicTokenEstimator"/>. Output longer than
/// <see cref="ChatOptions.MaxOutputTokens"/> is cut, with finish reason <see cref="ChatFinishReason.Length"/>,
/// as a real model would. Failures and latency can be injected with <see cref="DeterministicModelSettings"/>;
/// those are the only stateful behaviours (a call counter).
/// </para>
/// </summary>
public sealed class DeterministicChatClient : IChatClient
{
    /// <summary>The <see cref="ChatOptions.AdditionalProperties"/> key that selects a responder.</summary>
    public const string ResponderKeyProperty = "agents.responder";

    /// <summary>The provider name reported in metadata, telemetry and usage.</summary>
    public const string ProviderName = "deterministic";

    /// <summary>Output tokens allowed when the caller sets no <see cref="ChatOptions.MaxOutputTokens"/>.</summary>
    public const int DefaultMaxOutputTokens = 1024;

    private readonly Dictionary<string, IDeterministicResponder> _responders = new(StringComparer.Ordinal);
    private readonly DeterministicModelSettings _settings;
    private readonly TimeProvider _timeProvider;
    private readonly ChatClientMetadata _metadata;
    private long _calls;

    /// <summary>Creates the client.</summary>
    /// <param name="responders">Responders it may consult; keys must be unique.</param>
    /// <param name="settings">Failure and latency injection; none when null.</param>
    /// <param name="modelId">The model id it reports.</param>
    /// <param name="timeProvider">The clock injected latency waits on; the system clock when null.</param>
    public DeterministicChatClient(
        IEnumerable<IDeterministicResponder>? responders = null,
        DeterministicModelSettings? settings = null,
        string modelId = ModelOptions.DeterministicModelId,
        TimeProvider? timeProvider = null)
    {
        foreach (var responder in responders ?? [])
        {
            if (!_responders.TryAdd(responder.Key, responder))
            {
                throw new ArgumentException($"Two deterministic responders are registered under the key '{responder.Key}'.", nameof(responders));
            }
        }

        _settings = settings ?? new DeterministicModelSettings();
        _timeProvider = timeProvider ?? TimeProvider.System;
        ModelId = modelId;
        _metadata = new ChatClientMetadata(ProviderName, providerUri: null, defaultModelId: modelId);
    }

    /// <summary>The model id it reports.</summary>
    public string ModelId { get; }

    /// <summary>Calls received so far, including failed ones.</summary>
    public long CallCount => Interlocked.Read(ref _calls);

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var messageList = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        var call = Interlocked.Increment(ref _calls);

        if (_settings.LatencyMilliseconds > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(_settings.LatencyMilliseconds), _timeProvider, cancellationToken);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var request = CreateRequest(messageList, options);

        if (call <= _settings.FailFirstCalls)
        {
            throw new DeterministicModelException($"Deterministic model: injected failure of call {call} (FailFirstCalls is {_settings.FailFirstCalls}).");
        }

        if (!string.IsNullOrEmpty(_settings.FailWhenPromptContains) && request.Prompt.Contains(_settings.FailWhenPromptContains, StringComparison.Ordinal))
        {
            throw new DeterministicModelException($"Deterministic model: injected failure, the prompt contains '{_settings.FailWhenPromptContains}'.");
        }

        var text = Answer(request);
        var finishReason = ChatFinishReason.Stop;
        var maxCharacters = (long)request.MaxOutputTokens * DeterministicTokenEstimator.CharactersPerToken;
        if (text.Length > maxCharacters)
        {
            text = StableHash.Truncate(text, (int)maxCharacters);
            finishReason = ChatFinishReason.Length;
        }

        var input = DeterministicTokenEstimator.EstimateInput(messageList, options);
        var output = DeterministicTokenEstimator.Estimate(text);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = ModelId,
            ResponseId = "det-" + ChatRequestHash.Compute(messageList, options)[..24],
            FinishReason = finishReason,
            Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output },
        };
    }

    /// <inheritdoc />
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

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private static DeterministicRequest CreateRequest(IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        var prompt = new StringBuilder();
        if (!string.IsNullOrEmpty(options?.Instructions))
        {
            prompt.Append(options.Instructions).Append('\n');
        }

        foreach (var message in messages)
        {
            prompt.Append(message.Text).Append('\n');
        }

        var lastUser = messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text;
        var json = options?.ResponseFormat as ChatResponseFormatJson;
        return new DeterministicRequest
        {
            Messages = messages,
            Options = options,
            Prompt = prompt.ToString(),
            LastUserText = string.IsNullOrWhiteSpace(lastUser) ? prompt.ToString() : lastUser,
            Schema = json?.Schema,
            SchemaName = json?.SchemaName,
            MaxOutputTokens = Math.Max(1, options?.MaxOutputTokens ?? DefaultMaxOutputTokens),
        };
    }

    private string Answer(DeterministicRequest request)
    {
        if (SelectResponder(request) is { } responder)
        {
            return responder.Respond(request);
        }

        if (request.Schema is { } schema)
        {
            return JsonSchemaFiller.Fill(schema, request);
        }

        return request.Options?.ResponseFormat is ChatResponseFormatJson
            ? JsonSerializer.Serialize(new { response = DeterministicText.Compose(request) })
            : DeterministicText.Compose(request);
    }

    private IDeterministicResponder? SelectResponder(DeterministicRequest request)
    {
        var key = request.GetProperty(ResponderKeyProperty) switch
        {
            string s => s,
            JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
            null => null,
            var other => other.ToString(),
        };

        if (!string.IsNullOrEmpty(key))
        {
            return _responders.TryGetValue(key, out var chosen)
                ? chosen
                : throw new InvalidOperationException(
                    $"No deterministic responder is registered under the key '{key}' (requested by ChatOptions.AdditionalProperties[\"{ResponderKeyProperty}\"]). " +
                    $"Registered: {(_responders.Count == 0 ? "none" : string.Join(", ", _responders.Keys.Order(StringComparer.Ordinal)))}.");
        }

        return request.SchemaName is { } name && _responders.TryGetValue(name, out var bySchema) ? bySchema : null;
    }
}
