using System.Text;

namespace Agents.Models.Deterministic;

/// <summary>
/// The deterministic provider's answer to a plain text request: a templated digest that restates the
/// request and quotes its key lines. It does not understand anything.
/// </summary>
internal static class DeterministicText
{
    private const int MaxQuotedLines = 5;
    private const int MaxLineLength = 200;

    public static string Compose(DeterministicRequest request)
    {
        var lines = request.LastUserText
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => StableHash.Truncate(StableHash.Normalize(l), MaxLineLength))
            .Where(l => l.Length > 0)
            .ToList();
        var ask = lines.Count > 0 ? lines[0] : "(empty request)";

        // Lines that look like facts ("Plan: Gold", "Order 1234 ...") are quoted first, then the rest, in prompt order.
        var rest = lines.Skip(1).Distinct(StringComparer.Ordinal).ToList();
        var quoted = rest.Where(LooksLikeFact).Concat(rest.Where(l => !LooksLikeFact(l))).Take(MaxQuotedLines).ToList();
        var quotedSet = quoted.ToHashSet(StringComparer.Ordinal);

        var text = new StringBuilder();
        text.Append("Deterministic response (offline test model; not a language model).\n");
        text.Append("Request: ").Append(ask).Append('\n');
        if (quoted.Count > 0)
        {
            text.Append("Key points:\n");
            foreach (var line in rest.Where(quotedSet.Contains))
            {
                text.Append("- \"").Append(line).Append("\"\n");
            }
        }

        text.Append("Based on ").Append(request.Messages.Count).Append(request.Messages.Count == 1 ? " message" : " messages")
            .Append(" and ").Append(StableHash.SplitWords(request.Prompt).Count).Append(" words of input.");
        return text.ToString();
    }

    private static bool LooksLikeFact(string line) => line.Contains(':', StringComparison.Ordinal) || line.Any(char.IsDigit);
}
