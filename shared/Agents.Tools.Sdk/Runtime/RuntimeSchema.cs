using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace Agents.Tools.Sdk.Runtime;

/// <summary>Checks runtime tools' arguments against their input schema (JSON Schema, any draft the document names; 2020-12 by default).</summary>
internal static class RuntimeSchema
{
    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List };

    public static string? Problem(JsonObject schema)
    {
        try
        {
            _ = Build(schema);
            return null;
        }
        catch (Exception ex) when (ex is JsonException or JsonSchemaException or ArgumentException or InvalidOperationException or RefResolutionException)
        {
            return "the input schema is not a usable JSON schema: " + ex.Message;
        }
    }

    public static JsonSchema Build(JsonObject schema)
    {
        using var document = JsonDocument.Parse(schema.ToJsonString());
        return JsonSchema.Build(document.RootElement.Clone(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
    }

    /// <summary>The problems of <paramref name="arguments"/>, each as <c>pointer: message</c>; empty when valid.</summary>
    public static IReadOnlyList<string> Validate(JsonSchema schema, JsonElement arguments)
    {
        var results = schema.Evaluate(arguments, Evaluation);
        if (results.IsValid)
        {
            return [];
        }

        var problems = new List<string>();
        var pending = new Stack<EvaluationResults>([results]);
        while (pending.TryPop(out var result))
        {
            foreach (var (keyword, message) in result.Errors ?? new Dictionary<string, string>())
            {
                var at = result.InstanceLocation.ToString();
                problems.Add($"{(at.Length == 0 ? "/" : at)}: {message} ({keyword})");
            }

            foreach (var detail in result.Details ?? [])
            {
                pending.Push(detail);
            }
        }

        return problems.Count == 0 ? ["/: the arguments do not match the tool's input schema"] : problems.Distinct(StringComparer.Ordinal).ToList();
    }
}
