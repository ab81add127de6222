using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Agents.Models;

/// <summary>
/// What one model call used and cost. Every response from a client registered by
/// <c>AddAgentsModels</c> carries one:
/// <c>response.GetModelUsage()</c>.
/// </summary>
/// <param name="Role">The role whose client made the call (<see cref="ModelRoles"/>).</param>
/// <param name="Provider">The provider that served it (<c>deterministic</c>, <c>openai</c>, <c>ollama</c>, ...).</param>
/// <param name="Model">The model id that served it (the response's model id when the provider reports one).</param>
/// <param name="InputTokens">Input (prompt) tokens, as reported by the provider.</param>
/// <param name="OutputTokens">Output (completion) tokens, as reported by the provider.</param>
/// <param name="Cost">Cost from the price table (<c>Models:Prices</c>), in its currency units; 0 when unpriced.</param>
/// <param name="Priced">False when the price table has no entry for the model (then <paramref name="Cost"/> is 0).</param>
/// <param name="Duration">Wall-clock time of the call.</param>
public sealed record ModelUsage(
    string Role,
    string Provider,
    string Model,
    long InputTokens,
    long OutputTokens,
    decimal Cost,
    bool Priced,
    TimeSpan Duration)
{
    /// <summary>Key of the usage in <see cref="ChatResponse.AdditionalProperties"/>.</summary>
    public const string PropertyKey = "agents.usage";

    /// <summary>Input plus output tokens.</summary>
    public long TotalTokens => InputTokens + OutputTokens;
}

/// <summary>Reads the <see cref="ModelUsage"/> attached to a response.</summary>
public static class ModelUsageExtensions
{
    /// <summary>
    /// The usage attached to <paramref name="response"/> by the accounting step of the pipeline, or null
    /// when the response did not go through it. Also works on a response read back from JSON (an event log).
    /// </summary>
    public static ModelUsage? GetModelUsage(this ChatResponse response)
    {
        if (response.AdditionalProperties?.TryGetValue(ModelUsage.PropertyKey, out var value) != true)
        {
            return null;
        }

        return value switch
        {
            ModelUsage usage => usage,
            JsonElement { ValueKind: JsonValueKind.Object } json => json.Deserialize<ModelUsage>(JsonSerializerOptions.Web),
            _ => null,
        };
    }
}
