using System.Text.RegularExpressions;

namespace Agents.Executor.StateMachines;

/// <summary>
/// Notices outside content that speaks to an AI agent ("ignore previous instructions", "system notice to AI
/// assistants", "new instructions:"). A heuristic, and only a second line: provenance decides what needs a person;
/// a flag only withdraws the autonomy a policy gave to untrusted data in Data arguments, so a page that tries to
/// instruct the agent never flows into a mutation unreviewed, even as content. Missing a phrasing weakens nothing
/// that provenance guarantees.
/// </summary>
internal static partial class InjectionScreen
{
    [GeneratedRegex(
        @"\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(previous|prior|above|earlier|all|your|the)\b[^.\n]{0,20}\b(instructions?|rules|prompts?|guidelines|directions|task)\b"
        + @"|\b(system|admin(istrator)?|developer)\s*(notice|message|override|prompt|instruction)s?\b"
        + @"|\b(note|message|instructions?|notice)\s+(to|for)\s+(the\s+)?(ai|assistant|agent|llm|model|bot)s?\b"
        + @"|\b(ai|llm)\s+(assistants?|agents?|models?)\s*[:,]"
        + @"|\bnew\s+instructions?\s*:"
        + @"|\byou\s+(are\s+now|must\s+now|must\s+instead|should\s+instead)\b"
        + @"|\bdo\s+not\s+(tell|inform|mention\s+(this\s+)?to)\s+the\s+user\b"
        + @"|\b(assistant|agent)\s*,?\s+(please\s+)?(now\s+)?(call|use|invoke|run)\s+(the\s+)?[a-z]+\.[a-z\-]+",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Instruction();

    /// <summary>True when <paramref name="text"/> holds something phrased as an instruction to an AI agent.</summary>
    public static bool Flags(string? text) => !string.IsNullOrEmpty(text) && Instruction().IsMatch(text);
}
