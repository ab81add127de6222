using System.Text.RegularExpressions;

namespace Agents.Planner.Planning;

/// <summary>A <c>{{...}}</c> reference found in a step's arguments or prompt.</summary>
internal sealed record StepReference(string Text, string? StepId, string? ParameterName)
{
    public bool IsValid => StepId is not null || ParameterName is not null;
}

/// <summary>
/// Finds the references a step makes: <c>{{steps.&lt;id&gt;.output}}</c>, <c>{{steps.&lt;id&gt;.output.&lt;json.path&gt;}}</c>
/// and <c>{{params.&lt;name&gt;}}</c>. Anything else between double braces is reported as invalid.
/// </summary>
internal static partial class StepReferences
{
    public static IEnumerable<StepReference> Find(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            yield break;
        }

        foreach (Match match in Placeholder().Matches(text))
        {
            var inner = match.Groups[1].Value.Trim();
            var step = StepOutput().Match(inner);
            if (step.Success)
            {
                yield return new StepReference(match.Value, step.Groups[1].Value, null);
                continue;
            }

            var parameter = Parameter().Match(inner);
            yield return parameter.Success
                ? new StepReference(match.Value, null, parameter.Groups[1].Value)
                : new StepReference(match.Value, null, null);
        }
    }

    public static bool ContainsReference(string text) => Placeholder().IsMatch(text);

    /// <summary>Replaces <c>{{params.name}}</c> for the names in <paramref name="values"/>; other references stay.</summary>
    public static string ReplaceParameters(string text, IReadOnlyDictionary<string, string> values) =>
        Placeholder().Replace(text, match =>
        {
            var parameter = Parameter().Match(match.Groups[1].Value.Trim());
            return parameter.Success && values.TryGetValue(parameter.Groups[1].Value, out var value) ? value : match.Value;
        });

    [GeneratedRegex(@"\{\{(.*?)\}\}", RegexOptions.Singleline)]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"^steps\.([A-Za-z][A-Za-z0-9_-]*)\.output(?:\.[^\s{}]+)?$")]
    private static partial Regex StepOutput();

    [GeneratedRegex(@"^params\.([A-Za-z_][A-Za-z0-9_-]*)$")]
    private static partial Regex Parameter();
}
