using System.Text.Json;
using System.Text.Json.Nodes;
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

    /// <summary>
    /// True when <paramref name="text"/> holds something phrased as an instruction to an AI agent. A tool's output is JSON,
    /// whose strings are also screened as they read: there a line break before an instruction is written <c>\n</c>, which
    /// would glue an "n" to its first word and hide the word's start.
    /// </summary>
    public static bool Flags(string? text) =>
        !string.IsNullOrEmpty(text) && (Instruction().IsMatch(text) || (JsonStrings(text) is { Length: > 0 } strings && Instruction().IsMatch(strings)));

    /// <summary>The string values of <paramref name="text"/> when it is JSON (one a line), otherwise null.</summary>
    private static string? JsonStrings(string text)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }

        var strings = new List<string>();
        Collect(root, strings);
        return string.Join("\n", strings);

        static void Collect(JsonNode? node, List<string> strings)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (_, value) in o)
                    {
                        Collect(value, strings);
                    }

                    break;
                case JsonArray a:
                    foreach (var item in a)
                    {
                        Collect(item, strings);
                    }

                    break;
                case JsonValue v when v.TryGetValue<string>(out var s):
                    strings.Add(s);
                    break;
            }
        }
    }
}
