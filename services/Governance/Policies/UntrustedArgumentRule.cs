using System.Text.Json.Serialization;
using Agents.Contracts;

namespace Agents.Governance.Policies;

/// <summary>What a policy rule decides for an untrusted value in an argument.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<UntrustedFlow>))]
public enum UntrustedFlow
{
    /// <summary>The value may flow without a person (only for Data arguments).</summary>
    Allow,

    /// <summary>A person approves the exact call first.</summary>
    Approve,

    /// <summary>The call is refused.</summary>
    Deny,
}

/// <summary>
/// How untrusted values in arguments of the tools matching <see cref="Tool"/> (a pattern; null: every tool) and of
/// <see cref="Class"/> are decided. The first matching rule wins; without one, a tool that acts outside (Mutating, or
/// sending data out) needs a person and any other tool is allowed. <see cref="UntrustedFlow.Allow"/> is only valid for
/// <see cref="ArgumentClass.Data"/>: untrusted content never steers a call unreviewed.
/// </summary>
public sealed record UntrustedArgumentRule(string? Tool, ArgumentClass Class, UntrustedFlow Decision)
{
    public override string ToString() => $"untrusted {Class.ToString().ToLowerInvariant()} in '{Tool ?? "*"}': {Decision.ToString().ToLowerInvariant()}";
}
