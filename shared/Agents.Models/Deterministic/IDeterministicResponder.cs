using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Agents.Models.Deterministic;

/// <summary>
/// Produces the deterministic client's answer for one kind of request, e.g. the planner's
/// "goal + tool catalog → plan". The client picks a responder by
/// <c>ChatOptions.AdditionalProperties["agents.responder"]</c> (see <see cref="DeterministicChatClient.ResponderKeyProperty"/>),
/// or else by the JSON schema name of <c>ChatOptions.ResponseFormat</c>.
/// </summary>
/// <remarks>
/// A responder must be a pure function of the request: same request, same text. It may throw to simulate a
/// model failure. When the caller asked for JSON, the text should be JSON valid against the requested schema;
/// the client does not check it (the caller does, as it must with a real model).
/// </remarks>
public interface IDeterministicResponder
{
    /// <summary>The key callers select this responder by.</summary>
    string Key { get; }

    /// <summary>The response text for <paramref name="request"/>.</summary>
    string Respond(DeterministicRequest request);
}

/// <summary>What a <see cref="IDeterministicResponder"/> gets to work from.</summary>
public sealed class DeterministicRequest
{
    /// <summary>The messages of the call, in order.</summary>
    public required IReadOnlyList<ChatMessage> Messages { get; init; }

    /// <summary>The call's options (after the pipeline's output cap), if any.</summary>
    public ChatOptions? Options { get; init; }

    /// <summary>The text of every message (and the options' instructions), one per line, in order.</summary>
    public required string Prompt { get; init; }

    /// <summary>The text of the last user message, or <see cref="Prompt"/> when there is none.</summary>
    public required string LastUserText { get; init; }

    /// <summary>The requested JSON schema, when the caller asked for JSON with a schema.</summary>
    public JsonElement? Schema { get; init; }

    /// <summary>The requested schema's name, if given.</summary>
    public string? SchemaName { get; init; }

    /// <summary>Output tokens the answer may use; longer answers are cut (finish reason <c>length</c>).</summary>
    public required int MaxOutputTokens { get; init; }

    /// <summary>An additional property of the call's options, e.g. structured data the caller passes to its responder.</summary>
    public object? GetProperty(string key) =>
        Options?.AdditionalProperties is { } properties && properties.TryGetValue(key, out var value) ? value : null;
}

/// <summary>Builds responders from functions.</summary>
public static class DeterministicResponder
{
    /// <summary>A responder that returns <paramref name="respond"/>'s text.</summary>
    public static IDeterministicResponder Create(string key, Func<DeterministicRequest, string> respond) =>
        new FunctionResponder(key, respond);

    /// <summary>A responder that returns <paramref name="respond"/>'s value serialized as JSON (web defaults unless given).</summary>
    public static IDeterministicResponder CreateJson<T>(string key, Func<DeterministicRequest, T> respond, JsonSerializerOptions? serializerOptions = null) =>
        new FunctionResponder(key, request => JsonSerializer.Serialize(respond(request), serializerOptions ?? JsonSerializerOptions.Web));

    private sealed class FunctionResponder(string key, Func<DeterministicRequest, string> respond) : IDeterministicResponder
    {
        public string Key { get; } = key;

        public string Respond(DeterministicRequest request) => respond(request);
    }
}

/// <summary>Selecting a deterministic responder from <see cref="ChatOptions"/>.</summary>
public static class DeterministicChatOptionsExtensions
{
    /// <summary>
    /// Asks the deterministic provider to answer with the responder registered under <paramref name="key"/>.
    /// Other providers ignore it.
    /// </summary>
    public static ChatOptions WithDeterministicResponder(this ChatOptions options, string key)
    {
        options.AdditionalProperties ??= [];
        options.AdditionalProperties[DeterministicChatClient.ResponderKeyProperty] = key;
        return options;
    }
}
