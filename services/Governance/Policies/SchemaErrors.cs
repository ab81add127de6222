using System.Globalization;
using System.Text.Json;
using Json.Schema;

namespace Agents.Governance.Policies;

/// <summary>
/// Explains why a JSON document failed its JSON schema as (JSON pointer, message) pairs a person can act on: the
/// pointer is where the bad value is (a missing property's own place, an unknown property's own place), the message
/// says what is expected there. A subschema that carries an <c>errorMessage</c> (the convention of ajv-errors) is
/// explained by that one message instead of its details; otherwise each failed keyword gets a message built from the
/// schema (the expected type, the allowed values, the allowed properties, a missing property's description).
/// Shared by the governance service and the CLI (linked), so both say the same.
/// </summary>
internal static class SchemaErrors
{
    /// <summary>The output that <see cref="Explain"/> reads: every failed subschema with its own location.</summary>
    public static EvaluationOptions Options { get; } = new() { OutputFormat = OutputFormat.Hierarchical };

    public static List<(string Pointer, string Message)> Explain(EvaluationResults results, JsonElement schema, JsonElement instance)
    {
        var errors = new List<(string Pointer, string Message)>();
        Collect(results, schema, instance, errors);
        if (errors.Count == 0 && !results.IsValid)
        {
            errors.Add((string.Empty, "The document does not match its schema."));
        }

        return errors.Distinct().ToList();
    }

    private static void Collect(EvaluationResults node, JsonElement schema, JsonElement instance, List<(string, string)> errors)
    {
        if (node.IsValid)
        {
            return;
        }

        var path = Segments(node.EvaluationPath.ToString());
        var subschema = Subschema(schema, path);
        var pointer = node.InstanceLocation.ToString();
        var own = node.Errors ?? new Dictionary<string, string>();
        if (subschema is { ValueKind: JsonValueKind.Object } s && s.TryGetProperty("errorMessage", out var custom) && custom.GetString() is { } message)
        {
            // A subschema that only requires a property is explained where that property belongs.
            var missing = own.Count == 1 && own.ContainsKey("required") ? Missing(s, instance, pointer) : [];
            errors.Add((missing.Count == 1 ? pointer + "/" + Escape(missing[0]) : pointer, message));
            return;
        }

        foreach (var (keyword, text) in own)
        {
            errors.AddRange(Describe(keyword, text, path, schema, subschema, instance, pointer));
        }

        foreach (var child in node.Details ?? [])
        {
            Collect(child, schema, instance, errors);
        }
    }

    private static IEnumerable<(string, string)> Describe(
        string keyword, string text, string[] path, JsonElement schema, JsonElement? subschema, JsonElement instance, string pointer)
    {
        var value = subschema is { ValueKind: JsonValueKind.Object } s && s.TryGetProperty(keyword, out var v) ? v : (JsonElement?)null;
        var subject = Subject(pointer);
        switch (keyword)
        {
            case "required" when subschema is { } requiring:
                foreach (var name in Missing(requiring, instance, pointer))
                {
                    var description = Subschema(schema, [.. path, "properties", name]) is { ValueKind: JsonValueKind.Object } property
                        && property.TryGetProperty("description", out var d) ? " " + d.GetString() : string.Empty;
                    yield return (pointer + "/" + Escape(name), $"'{name}' is required.{description}");
                }

                yield break;
            case "" when path.Length > 0 && path[^1] == "additionalProperties":
                var allowed = Subschema(schema, path[..^1]) is { ValueKind: JsonValueKind.Object } parent && parent.TryGetProperty("properties", out var known)
                    ? $" Allowed here: {string.Join(", ", known.EnumerateObject().Select(p => p.Name))}."
                    : string.Empty;
                yield return (pointer, $"Unknown property '{Shorten(Unescape(pointer[(pointer.LastIndexOf('/') + 1)..]))}'.{allowed}");
                yield break;
            case "type" when value is { } type:
                var names = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!) : [type.GetString()!];
                yield return (pointer, $"{subject} must be {string.Join(" or ", names.Select(TypeName))}.");
                yield break;
            case "enum" when value is { } values:
                var choices = values.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText()).Distinct(StringComparer.OrdinalIgnoreCase);
                yield return (pointer, $"{subject} must be one of {string.Join(", ", choices)}.");
                yield break;
            case "minItems" when value is { } min:
                yield return (pointer, $"{subject} needs at least {min.GetRawText()} {(min.GetRawText() == "1" ? "entry" : "entries")}.");
                yield break;
            case "maxItems" or "maxProperties" when value is { } max:
                yield return (pointer, $"{subject} may have at most {max.GetRawText()} entries.");
                yield break;
            default:
                yield return (pointer, $"{subject}: {text}");
                yield break;
        }
    }

    /// <summary>The subschema an evaluation path leads to, following local <c>$ref</c>s; null when it cannot be followed.</summary>
    private static JsonElement? Subschema(JsonElement schema, string[] path)
    {
        var current = schema;
        for (var i = 0; i < path.Length; i++)
        {
            var segment = path[i];
            if (segment == "$ref")
            {
                if (!current.TryGetProperty("$ref", out var reference) || reference.GetString() is not { } target || !target.StartsWith('#'))
                {
                    return null;
                }

                current = Subschema(schema, Segments(Uri.UnescapeDataString(target[1..]))) ?? default;
            }
            else if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(segment, out var next))
            {
                return null;
            }
            else if (segment is "properties" or "patternProperties" or "$defs" or "dependentSchemas" or "allOf" or "anyOf" or "oneOf" or "prefixItems" && i + 1 < path.Length)
            {
                i++;
                current = next.ValueKind == JsonValueKind.Array
                    ? int.TryParse(path[i], NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < next.GetArrayLength() ? next[index] : default
                    : next.TryGetProperty(path[i], out var named) ? named : default;
            }
            else
            {
                current = next;

                // JsonSchema.Net names the 'items' keyword twice in an evaluation path (.../items/items).
                if (segment == "items" && i + 1 < path.Length && path[i + 1] == "items" && !(next.ValueKind == JsonValueKind.Object && next.TryGetProperty("items", out _)))
                {
                    i++;
                }
            }

            if (current.ValueKind == JsonValueKind.Undefined)
            {
                return null;
            }
        }

        return current;
    }

    /// <summary>The properties <paramref name="subschema"/> requires that the object at <paramref name="pointer"/> lacks.</summary>
    private static List<string> Missing(JsonElement subschema, JsonElement instance, string pointer)
    {
        var target = Json.Pointer.JsonPointer.Parse(pointer).Evaluate(instance);
        return subschema.TryGetProperty("required", out var required) && target is { ValueKind: JsonValueKind.Object } obj
            ? required.EnumerateArray().Select(r => r.GetString()!).Where(r => !obj.TryGetProperty(r, out _)).ToList()
            : [];
    }

    private static string Subject(string pointer)
    {
        if (pointer.Length == 0)
        {
            return "The document";
        }

        var last = Unescape(pointer[(pointer.LastIndexOf('/') + 1)..]);
        return last.Length > 0 && !last.All(char.IsAsciiDigit) ? $"'{Shorten(last)}'" : "The value";
    }

    private static string TypeName(string type) => type switch
    {
        "object" => "an object",
        "array" => "an array",
        "string" => "a string",
        "integer" => "a whole number",
        "number" => "a number",
        "boolean" => "true or false",
        _ => type,
    };

    private static string[] Segments(string pointer) =>
        pointer.Length == 0 ? [] : pointer.TrimStart('/').Split('/').Select(Unescape).ToArray();

    private static string Escape(string token) => token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    private static string Unescape(string token) => token.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);

    private static string Shorten(string text) => text.Length > 100 ? text[..100] + "…" : text;
}
