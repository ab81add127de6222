using System.Collections.Concurrent;
using System.Text.Json;
using Agents.Contracts;
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

    public static IEnumerable<string> Check(ToolSummary tool, JsonElement arguments)
    {
        var schema = Schemas.GetOrAdd(tool.InputSchema, Compile);
        if (schema is null)
        {
            // The tool's own schema is unusable; the tool-gateway reports that at call time.
            return [];
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
