using Agents.Contracts;
using Agents.Governance.Policies;

namespace Agents.Governance.Decisions;

/// <summary>One tainted argument of a call, with its class and what the tenant's policy decides for it, and why.</summary>
public sealed record TaintedArgumentDecision(
    string Argument, ArgumentClass Class, IReadOnlyList<string> Sources, string Value, bool Flagged, UntrustedFlow Decision, string Why);

/// <summary>
/// Decides each tainted argument of a tool call by the policy's <c>untrustedArguments</c> rules and the tool's declared
/// argument classes. Deny by default where it matters: an argument the tool did not declare is Control; a call whose
/// sender did not say which arguments are tainted counts as all of them, Control; content flagged as instructions to an
/// AI agent never flows unreviewed into a tool that acts outside, whatever a rule allows.
/// </summary>
public static class UntrustedArguments
{
    public static IReadOnlyList<TaintedArgumentDecision> Decide(AuthorizeToolCall m, PolicyDocument document)
    {
        if (!m.ArgumentsTainted && m.TaintedArguments is not { Count: > 0 })
        {
            return [];
        }

        IReadOnlyList<TaintedArgument> tainted = m.TaintedArguments is { Count: > 0 } list
            ? list
            : [new TaintedArgument(string.Empty, ["(the caller did not say which argument)"], Shorten(m.ArgumentsJson))];
        var actsOutside = m.SideEffect == SideEffectClass.Mutating || m.SendsDataOut;
        return [.. tainted.Select(argument => DecideOne(m, document, argument, actsOutside))];
    }

    private static TaintedArgumentDecision DecideOne(AuthorizeToolCall m, PolicyDocument document, TaintedArgument argument, bool actsOutside)
    {
        var @class = ClassOf(argument.Argument, m.ArgumentClasses);
        var sources = argument.Sources ?? [];
        var from = sources.Count == 0 ? "untrusted content" : string.Join(", ", sources);
        var name = argument.Argument.Length == 0 ? "the arguments" : $"argument {argument.Argument}";
        var what = $"{name} ({@class.ToString().ToLowerInvariant()}) carries untrusted content from {from}";
        var rule = document.UntrustedArguments.FirstOrDefault(r => r.Class == @class && (r.Tool is null || Wildcard.IsMatch(r.Tool, m.Tool)));
        var outside = m.SideEffect == SideEffectClass.Mutating ? "a mutating tool" : "a tool that sends data out";
        var (decision, why) = rule switch
        {
            { Decision: UntrustedFlow.Allow } when argument.Flagged && actsOutside =>
                (UntrustedFlow.Approve, $"{what}, which addresses instructions to an AI agent; policy allows untrusted data here ({rule}), but not that"),
            { } r => (r.Decision, $"{what}; policy: {r}"),
            null when actsOutside => (UntrustedFlow.Approve, $"{what} and reaches {outside}"),
            _ => (UntrustedFlow.Allow, $"{what}; the tool neither changes anything nor sends data out"),
        };
        return new TaintedArgumentDecision(argument.Argument, @class, sources, argument.Value ?? string.Empty, argument.Flagged, decision, why);
    }

    /// <summary>The class the tool declared for the top-level argument a pointer names; Control when undeclared.</summary>
    public static ArgumentClass ClassOf(string pointer, IReadOnlyDictionary<string, ArgumentClass>? classes)
    {
        if (classes is null || pointer.Length < 2 || pointer[0] != '/')
        {
            return ArgumentClass.Control;
        }

        var top = pointer[1..].Split('/')[0].Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
        return classes.TryGetValue(top, out var declared) ? declared : ArgumentClass.Control;
    }

    private static string Shorten(string? text) => text is null ? string.Empty : text.Length > 500 ? text[..500] + "…" : text;
}
