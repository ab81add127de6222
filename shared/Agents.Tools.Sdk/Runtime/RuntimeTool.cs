using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Contracts;

namespace Agents.Tools.Sdk.Runtime;

/// <summary>
/// A tool defined at run time by schema documents and a delegate rather than by a class with records:
/// for tools discovered while the host runs (for example the tools of an MCP server). Register it with
/// <see cref="RuntimeToolCatalog.AddOrUpdateAsync"/>; every rule of a class tool applies to it
/// (announcement, its own queue, argument validation, the idempotency ledger, the timeout).
/// Runtime tools are not compensable.
/// </summary>
public sealed class RuntimeTool
{
    /// <summary>The tool's unique name (rule of <see cref="ToolEndpoints.IsValidName"/>).</summary>
    public required string Name { get; init; }

    /// <summary>What the tool does, for the planner model and for people.</summary>
    public required string Description { get; init; }

    /// <summary>The JSON schema the arguments must satisfy (an object schema); the SDK validates every call against it.</summary>
    public required JsonObject InputSchema { get; init; }

    /// <summary>The JSON schema of the output, when known; announced as <c>{}</c> (any JSON) otherwise.</summary>
    public JsonObject? OutputSchema { get; init; }

    /// <summary>What calling the tool does to the world.</summary>
    public required SideEffectClass SideEffect { get; init; }

    /// <summary>Risk tier for policies.</summary>
    public RiskTier Risk { get; init; } = RiskTier.Low;

    /// <summary>The permission scope a caller needs.</summary>
    public required string Scope { get; init; }

    /// <summary>True when the output carries content from outside.</summary>
    public bool ReturnsUntrustedContent { get; init; }

    /// <summary>How long one execution may take. Default 30 seconds.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The tool's version.</summary>
    public string Version { get; init; } = "1.0.0";

    /// <summary>
    /// Runs the tool once for a new idempotency key with the validated arguments; returns the output.
    /// Throw <see cref="ToolException"/> for an expected failure; other exceptions are transient failures.
    /// </summary>
    public required Func<JsonElement, ToolContext, CancellationToken, Task<JsonNode>> ExecuteAsync { get; init; }

    /// <summary>The announcement's descriptor.</summary>
    public ToolDescriptor ToDescriptor() => new(
        Name,
        Description,
        InputSchema.ToJsonString(),
        OutputSchema?.ToJsonString() ?? "{}",
        SideEffect,
        Risk,
        Scope,
        Compensable: false,
        ReturnsUntrustedContent,
        (int)Math.Ceiling(Timeout.TotalSeconds),
        Version);

    /// <summary>Null when the definition is usable, else why not.</summary>
    public string? Problem()
    {
        if (!ToolEndpoints.IsValidName(Name))
        {
            return $"tool name '{Name}' is invalid: use lower-case letters, digits, '.', '-' and '_', starting with a letter, at most 64 characters.";
        }

        if (string.IsNullOrWhiteSpace(Description))
        {
            return $"tool '{Name}' needs a description.";
        }

        if (string.IsNullOrWhiteSpace(Scope))
        {
            return $"tool '{Name}' needs a required scope.";
        }

        if (Timeout < TimeSpan.FromSeconds(1) || Timeout > TimeSpan.FromHours(1))
        {
            return $"tool '{Name}': the timeout must be between 1 s and 1 h, was {Timeout}.";
        }

        return RuntimeSchema.Problem(InputSchema) is { } schema ? $"tool '{Name}': {schema}" : null;
    }
}
