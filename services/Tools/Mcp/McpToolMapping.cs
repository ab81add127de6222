using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Agents.Contracts;
using ModelContextProtocol.Protocol;

namespace Agents.Tools.Mcp;

/// <summary>
/// How an MCP tool becomes a platform tool: its name (<c>mcp.&lt;server&gt;.&lt;tool&gt;</c>), its
/// side-effect class and risk from its annotations (fail safe: anything not declared read-only or
/// non-destructive and idempotent is <see cref="SideEffectClass.Mutating"/>), then configuration over both.
/// </summary>
internal static class McpToolMapping
{
    /// <summary>The platform name of <paramref name="tool"/> of <paramref name="server"/>, or null when it cannot be named within the registry's rules.</summary>
    public static string? PlatformName(string server, string tool)
    {
        var name = new StringBuilder("mcp.").Append(server).Append('.');
        for (var i = 0; i < tool.Length; i++)
        {
            var c = tool[i];
            if (char.IsAsciiLetterUpper(c))
            {
                // getSum -> get-sum: a camelCase name keeps its word breaks once lower-cased.
                if (i > 0 && (char.IsAsciiLetterLower(tool[i - 1]) || char.IsAsciiDigit(tool[i - 1])))
                {
                    name.Append('-');
                }

                name.Append(char.ToLowerInvariant(c));
            }
            else
            {
                name.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-' or '_' ? c : '-');
            }
        }

        var result = name.ToString();
        return tool.Length > 0 && ToolEndpoints.IsValidName(result) ? result : null;
    }

    /// <summary>
    /// <c>readOnlyHint: true</c> → ReadOnly; <c>destructiveHint: false</c> and <c>idempotentHint: true</c> →
    /// Idempotent; anything else, including no annotations (MCP's defaults are destructive and not
    /// idempotent) → Mutating.
    /// </summary>
    public static SideEffectClass SideEffect(ToolAnnotations? annotations) => annotations switch
    {
        { ReadOnlyHint: true } => SideEffectClass.ReadOnly,
        { DestructiveHint: false, IdempotentHint: true } => SideEffectClass.Idempotent,
        _ => SideEffectClass.Mutating,
    };

    /// <summary>Low for read-only tools of a closed world, High for destructive ones, Medium otherwise.</summary>
    public static RiskTier Risk(SideEffectClass sideEffect, ToolAnnotations? annotations) => sideEffect switch
    {
        SideEffectClass.ReadOnly => annotations?.OpenWorldHint == true ? RiskTier.Medium : RiskTier.Low,
        SideEffectClass.Mutating when annotations?.DestructiveHint != false => RiskTier.High,
        _ => RiskTier.Medium,
    };

    /// <summary>The input schema as the registry takes it (an object schema).</summary>
    public static JsonObject InputSchema(Tool tool) =>
        JsonNode.Parse(tool.InputSchema.GetRawText()) as JsonObject ?? new JsonObject { ["type"] = "object" };

    /// <summary>
    /// The platform output of an MCP tool: <c>{ "content": [blocks], "structuredContent": {...} }</c>,
    /// the latter described by the tool's own output schema when it has one.
    /// </summary>
    public static JsonObject OutputSchema(Tool tool)
    {
        var properties = new JsonObject
        {
            ["content"] = new JsonObject { ["type"] = "array", ["description"] = "The MCP content blocks the tool returned (text, image, resource...)." },
        };
        if (tool.OutputSchema is { } structured)
        {
            var schema = JsonNode.Parse(structured.GetRawText());
            (schema as JsonObject)?.Remove("$schema");
            properties["structuredContent"] = schema;
        }

        return new JsonObject { ["type"] = "object", ["properties"] = properties, ["required"] = new JsonArray("content") };
    }

    /// <summary>The text of an error result, for the call's error message.</summary>
    public static string ErrorText(CallToolResult result)
    {
        var text = string.Join(" ", result.Content.OfType<TextContentBlock>().Select(b => b.Text));
        text = text.Length == 0 ? "the tool reported an error without text" : text;
        return text.Length > 2000 ? text[..2000] + "…" : text;
    }

    /// <summary>The arguments as the MCP call carries them.</summary>
    public static Dictionary<string, JsonElement> Arguments(JsonElement input) =>
        input.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal);
}
