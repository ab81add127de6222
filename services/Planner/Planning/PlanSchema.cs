using Agents.Contracts;
using System.Text.Json;
using Json.Schema;

namespace Agents.Planner.Planning;

/// <summary>The JSON schema of the planner model's structured output (<see cref="PlanDraft"/>).</summary>
internal static class PlanSchema
{
    public const string Name = "agents_plan";

    public const string Text = $$"""
        {
          "type": "object",
          "properties": {
            "rationale": { "type": "string", "description": "One or two sentences: why these steps." },
            "steps": {
              "type": "array",
              "minItems": 1,
              "items": {
                "type": "object",
                "properties": {
                  "id": { "type": "string", "pattern": "{{StepRules.IdPattern}}" },
                  "kind": { "type": "string", "enum": ["tool", "model"] },
                  "tool": { "type": ["string", "null"], "description": "Tool name from the catalog (kind tool)." },
                  "arguments": { "type": ["object", "null"], "description": "Tool arguments matching the tool's input schema (kind tool)." },
                  "prompt": { "type": ["string", "null"], "description": "What to ask the model (kind model)." },
                  "dependsOn": { "type": "array", "items": { "type": "string" } },
                  "description": { "type": ["string", "null"] }
                },
                "required": ["id", "kind", "dependsOn"],
                "additionalProperties": false
              }
            }
          },
          "required": ["steps"],
          "additionalProperties": false
        }
        """;

    public static JsonElement Element { get; } = JsonDocument.Parse(Text).RootElement.Clone();

    public static JsonSchema Schema { get; } = JsonSchema.FromText(Text, new BuildOptions { SchemaRegistry = new SchemaRegistry() });

    /// <summary>Parses and checks a model answer; returns the draft or the errors to feed back.</summary>
    public static PlanDraft? Parse(string? text, List<string> errors)
    {
        var json = StripFence(text);
        if (string.IsNullOrWhiteSpace(json))
        {
            errors.Add("The answer was empty; answer with one JSON object matching the plan schema.");
            return null;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            errors.Add($"The answer is not valid JSON ({ex.Message}); answer with one JSON object matching the plan schema.");
            return null;
        }

        using (document)
        {
            var results = Schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (!results.IsValid)
            {
                foreach (var detail in (results.Details ?? []).Prepend(results))
                {
                    foreach (var message in detail.Errors?.Values ?? Enumerable.Empty<string>())
                    {
                        var location = detail.InstanceLocation.ToString();
                        var error = $"plan JSON {(location.Length == 0 ? "(top level)" : "at '" + location + "'")}: {message}";
                        if (!errors.Contains(error))
                        {
                            errors.Add(error);
                        }
                    }
                }

                if (errors.Count == 0)
                {
                    errors.Add("The answer does not match the plan schema.");
                }

                return null;
            }

            return document.RootElement.Deserialize<PlanDraft>(PlannerJson.Options);
        }
    }

    private static string? StripFence(string? text)
    {
        var trimmed = text?.Trim();
        if (trimmed is null || !trimmed.StartsWith("```", StringComparison.Ordinal))
        {
            return trimmed;
        }

        var firstLineEnd = trimmed.IndexOf('\n', StringComparison.Ordinal);
        var closing = trimmed.LastIndexOf("```", StringComparison.Ordinal);
        return firstLineEnd < 0 || closing <= firstLineEnd ? trimmed : trimmed[(firstLineEnd + 1)..closing].Trim();
    }
}
