using System.Text.Json.Serialization;

namespace Agents.Contracts;

/// <summary>What a tool argument does to the call: steers the action, or is content the action carries (JSON: its name).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ArgumentClass>))]
public enum ArgumentClass
{
    /// <summary>Chooses what the call does or to whom: a recipient, a customer id, an amount, a URL, a query. The default.</summary>
    Control,

    /// <summary>Content the call carries without steering it: a ticket body, a summary, a note.</summary>
    Data,
}

/// <summary>
/// One argument of a tool call whose value came (wholly or partly) from untrusted content.
/// <see cref="Argument"/> is a JSON pointer into the arguments (<c>/body</c>; empty for the whole argument set when the
/// sender could not tell which argument); <see cref="Sources"/> names where the untrusted part came from
/// (<c>step:kb (web.fetch)</c>, <c>memory:…</c>, <c>plan:v2</c>); <see cref="Value"/> is the value, shortened;
/// <see cref="Flagged"/>: a source was flagged as carrying instructions to an AI agent.
/// </summary>
public sealed record TaintedArgument(string Argument, IReadOnlyList<string> Sources, string Value, bool Flagged = false);
