using System.Collections.Concurrent;
using System.Text.Json;
using Agents.Contracts;
using Agents.Planner.Templates;
using Json.Schema;

namespace Agents.Planner.Planning;

/// <summary>
/// Checks a tool step's literal arguments against the tool's input schema. A value that holds a
/// <c>{{...}}</c> reference is only known at run time, so errors at or below it are not reported
/// (the tool-gateway validates the resolved arguments again).
/// </summary>
internal static class ToolArgumentChecker
{
    private static readonly ConcurrentDictionary<string, JsonSchema?> Schemas = new(StringComparer.Ordinal);

    /// <summary>
    /// The schema errors of <paramref name="arguments"/>. With <paramref name="parameters"/> (the task's values), every
    /// <c>{{params.name}}</c> is resolved first, as the executor will, and an error in a value made from a parameter
    /// names the parameter and its value: a wrong parameter is refused before any call, not after the tool refuses it.
    /// </summary>
    public static IEnumerable<string> Check(ToolSummary tool, JsonElement arguments, IReadOnlyDictionary<string, string>? parameters = null)
    {
        var schema = Schemas.GetOrAdd(tool.InputSchema, Compile);
        if (schema is null)
        {
            // The tool's own schema is unusable; the tool-gateway reports that at call time.
            return [];
        }

        var parametersAt = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (parameters is { Count: > 0 })
        {
            CollectParameters(arguments, string.Empty, parameters, parametersAt);
            if (parametersAt.Count > 0)
            {
                using var resolved = JsonDocument.Parse(TemplateRules.ReplaceInJson(arguments.GetRawText(), parameters));
                arguments = resolved.RootElement.Clone();
            }
        }

        var placeholders = new List<string>();
        CollectPlaceholders(arguments, string.Empty, placeholders);

        var results = schema.Evaluate(arguments, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (results.IsValid)
        {
            return [];
        }

        var errors = new List<string>();
        foreach (var detail in (results.Details ?? []).Prepend(results))
        {
            if (detail.IsValid || detail.Errors is not { Count: > 0 })
            {
                continue;
            }

            var location = detail.InstanceLocation.ToString();
            if (placeholders.Exists(p => location == p || location.StartsWith(p + "/", StringComparison.Ordinal)))
            {
                continue;
            }

            foreach (var message in detail.Errors.Values)
            {
                var text = $"arguments for '{tool.Name}' {(location.Length == 0 ? "(top level)" : "at '" + location + "'")}: {message}";
                if (parametersAt.TryGetValue(location, out var names))
                {
                    text += " (from " + string.Join(", ", names.Select(n => $"parameter '{n}' = \"{Shorten(parameters![n])}\"")) + ")";
                }

                if (!errors.Contains(text))
                {
                    errors.Add(text);
                }
            }
        }

        return errors;
    }

    private static JsonSchema? Compile(string text)
    {
        try
        {
            // A private registry per schema: tools may reuse $id values, which must not collide.
            return JsonSchema.FromText(text, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        }
        catch (Exception ex) when (ex is JsonException or JsonSchemaException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Where (JSON pointer) the arguments' strings use given parameters, and which.</summary>
    private static void CollectParameters(JsonElement element, string pointer, IReadOnlyDictionary<string, string> parameters, Dictionary<string, List<string>> found)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                var names = StepReferences.Find(element.GetString())
                    .Where(r => r.ParameterName is not null && parameters.ContainsKey(r.ParameterName))
                    .Select(r => r.ParameterName!)
                    .Distinct(StringComparer.Ordinal)
                    .ToList();
                if (names.Count > 0)
                {
                    found[pointer] = names;
                }

                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    CollectParameters(property.Value, pointer + "/" + Escape(property.Name), parameters, found);
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    CollectParameters(item, pointer + "/" + index++, parameters, found);
                }

                break;
        }
    }

    private static string Shorten(string value) => value.Length <= 100 ? value : value[..99] + "…";

    private static void CollectPlaceholders(JsonElement element, string pointer, List<string> placeholders)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String when StepReferences.ContainsReference(element.GetString()!):
                placeholders.Add(pointer);
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    CollectPlaceholders(property.Value, pointer + "/" + Escape(property.Name), placeholders);
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    CollectPlaceholders(item, pointer + "/" + index++, placeholders);
                }

                break;
        }
    }

    private static string Escape(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
}
