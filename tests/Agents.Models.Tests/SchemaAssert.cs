using System.Text.Json;
using Json.Schema;

namespace Agents.Models.Tests;

internal static class SchemaAssert
{
    /// <summary>Fails with the validator's errors unless <paramref name="json"/> is valid against <paramref name="schema"/> (formats checked too).</summary>
    public static void Valid(JsonElement schema, string json)
    {
        var compiled = JsonSchema.FromText(schema.GetRawText());
        using var document = JsonDocument.Parse(json);
        var result = compiled.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });
        if (!result.IsValid)
        {
            var errors = (result.Details ?? [])
                .Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}"));
            Assert.Fail($"JSON not valid against the schema:\n{json}\n{string.Join('\n', errors)}");
        }
    }
}
