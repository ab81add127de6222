using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Agents.Cli.Evaluation;

/// <summary>
/// The part of JSONPath a suite needs to point at one value: <c>$</c>, <c>.name</c>, <c>['name']</c> (names with dots
/// or dashes) and <c>[index]</c>, e.g. <c>$.result.lookup.name</c>, <c>$.steps[0].status</c>, <c>$.result['kb'].title</c>.
/// A JSON string that holds a JSON object or array is looked into as well (tool outputs and arguments come as text).
/// </summary>
internal static partial class JsonPath
{
    /// <summary>What is wrong with <paramref name="path"/>, or null.</summary>
    public static string? Problem(string path) =>
        Segments(path) is null ? $"'{path}' is not a path such as $.result.lookup.name, $.steps[0].status or $.result['kb'].title" : null;

    /// <summary>The value at <paramref name="path"/>, or null when there is none.</summary>
    public static JsonNode? Select(JsonNode? root, string path)
    {
        var current = root;
        foreach (var segment in Segments(path) ?? throw new ArgumentException(Problem(path), nameof(path)))
        {
            current = Parsed(current) switch
            {
                JsonObject obj when segment is string name => obj[name],
                JsonArray array when segment is int index => index < array.Count ? array[index] : null,
                _ => null,
            };
            if (current is null)
            {
                return null;
            }
        }

        return current;
    }

    private static List<object>? Segments(string path)
    {
        if (!path.StartsWith('$'))
        {
            return null;
        }

        var segments = new List<object>();
        var at = 1;
        while (at < path.Length)
        {
            var match = SegmentPattern().Match(path, at);
            if (!match.Success || match.Index != at)
            {
                return null;
            }

            segments.Add(match.Groups["name"].Success ? match.Groups["name"].Value
                : match.Groups["quoted"].Success ? match.Groups["quoted"].Value
                : int.Parse(match.Groups["index"].Value, CultureInfo.InvariantCulture));
            at += match.Length;
        }

        return segments;
    }

    private static JsonNode? Parsed(JsonNode? node)
    {
        if (node is JsonValue value && value.TryGetValue<string>(out var text) && text.TrimStart() is ['{' or '[', ..])
        {
            try
            {
                return JsonNode.Parse(text);
            }
            catch (System.Text.Json.JsonException)
            {
                return node;
            }
        }

        return node;
    }

    [GeneratedRegex(@"\.(?<name>[A-Za-z_][A-Za-z0-9_]*)|\['(?<quoted>[^']+)'\]|\[(?<index>[0-9]{1,6})\]")]
    private static partial Regex SegmentPattern();
}

/// <summary>
/// A check of one value: <c>{"equals": json}</c>, <c>{"contains": "text"}</c> (in the string, or the JSON text of
/// anything else), <c>{"matches": "regex"}</c> (same text) or <c>{"exists": true|false}</c>; <c>{"judge": "criterion"}</c> is
/// decided by a judge model (<see cref="EvalJudge"/>), not here.
/// </summary>
internal static class JsonMatch
{
    private static readonly string[] Kinds = ["equals", "contains", "matches", "exists", "judge"];

    public static string? Problem(JsonObject matcher)
    {
        if (matcher.Count != 1 || !Kinds.Contains(matcher.First().Key))
        {
            return $"give exactly one of {string.Join(", ", Kinds)}";
        }

        var (kind, value) = matcher.First();
        return kind switch
        {
            "contains" or "matches" or "judge" when value is not JsonValue v || !v.TryGetValue<string>(out _) => $"'{kind}' takes a string",
            "matches" when !IsRegex(value!.GetValue<string>()) => $"'{value}' is not a regular expression",
            "exists" when value is not JsonValue e || !e.TryGetValue<bool>(out _) => "'exists' takes true or false",
            _ => null,
        };
    }

    public static bool Holds(JsonObject matcher, JsonNode? actual)
    {
        var (kind, expected) = matcher.First();
        return kind switch
        {
            "exists" => (actual is not null) == expected!.GetValue<bool>(),
            "equals" => Number(actual) is { } a && Number(expected) is { } b ? a == b : JsonNode.DeepEquals(actual, expected),
            "contains" => actual is not null && Text(actual).Contains(expected!.GetValue<string>(), StringComparison.Ordinal),
            _ => actual is not null && Regex.IsMatch(Text(actual), expected!.GetValue<string>(), RegexOptions.None, TimeSpan.FromSeconds(1)),
        };
    }

    /// <summary>How a failed check reads: <c>$.result.id: expected equals "C-1" but was "C-2"</c>.</summary>
    public static string Describe(JsonObject matcher, JsonNode? actual)
    {
        var (kind, expected) = matcher.First();
        var shown = actual is null ? "absent" : Commands.TaskCommands.Shorten(actual.ToJsonString(), 200);
        return $"expected {kind} {expected?.ToJsonString() ?? "null"} but was {shown}";
    }

    private static string Text(JsonNode node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : node.ToJsonString();

    // Numbers compare by value (1 equals 1.0), whatever their JSON spelling.
    private static decimal? Number(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.Number && value.TryGetValue<decimal>(out var number) ? number : null;

    private static bool IsRegex(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
