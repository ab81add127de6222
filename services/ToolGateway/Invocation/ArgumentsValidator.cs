using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Json.Schema;

namespace Agents.ToolGateway.Invocation;

/// <summary>
/// Validates tool arguments against the tool's input JSON schema and explains every problem as
/// <c>&lt;instance pointer&gt;: &lt;message&gt;</c> (for example <c>/priority: value must be one of
/// ["low","normal","high"], got "urgent"</c>), so the planner or a person can fix them.
/// Compiled schemas are cached by their text; each schema is built in its own registry so two
/// tools' schemas with the same <c>$id</c> cannot clash.
/// </summary>
public sealed class ArgumentsValidator
{
    private const int MaxCachedSchemas = 1000;

    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List };

    private readonly ConcurrentDictionary<string, CompiledSchema> schemas = new(StringComparer.Ordinal);

    /// <summary>Null when <paramref name="schemaJson"/> is a usable JSON schema, else why not.</summary>
    public static string? CheckSchema(string schemaJson)
    {
        try
        {
            _ = Compile(schemaJson);
            return null;
        }
        catch (Exception ex) when (ex is JsonException or JsonSchemaException or ArgumentException or InvalidOperationException or RefResolutionException)
        {
            return "the input schema is not a valid JSON schema: " + ex.Message;
        }
    }

    /// <summary>The problems of <paramref name="argumentsJson"/> against <paramref name="schemaJson"/>; empty when valid.</summary>
    public IReadOnlyList<string> Validate(string schemaJson, string argumentsJson)
    {
        JsonDocument arguments;
        try
        {
            arguments = JsonDocument.Parse(argumentsJson);
        }
        catch (JsonException ex)
        {
            return [$"/: the arguments are not valid JSON ({ex.Message})"];
        }

        using (arguments)
        {
            var schema = GetOrCompile(schemaJson);
            var results = schema.Schema.Evaluate(arguments.RootElement, Evaluation);
            if (results.IsValid)
            {
                return [];
            }

            var errors = new List<string>();
            Collect(results, schema.Document.RootElement, arguments.RootElement, errors);
            if (errors.Count == 0)
            {
                errors.Add("/: the arguments do not match the tool's input schema");
            }

            return errors.Distinct(StringComparer.Ordinal).ToList();
        }
    }

    private CompiledSchema GetOrCompile(string schemaJson)
    {
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(schemaJson)));
        if (schemas.TryGetValue(key, out var compiled))
        {
            return compiled;
        }

        if (schemas.Count >= MaxCachedSchemas)
        {
            schemas.Clear();
        }

        return schemas.GetOrAdd(key, _ => Compile(schemaJson));
    }

    private static CompiledSchema Compile(string schemaJson)
    {
        var document = JsonDocument.Parse(schemaJson);
        var schema = JsonSchema.Build(document.RootElement, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        return new CompiledSchema(schema, document);
    }

    private static void Collect(EvaluationResults results, JsonElement schemaRoot, JsonElement instanceRoot, List<string> errors)
    {
        if (results.Errors is { Count: > 0 })
        {
            var location = results.InstanceLocation.ToString();
            var pointer = location.Length == 0 ? "/" : location;
            foreach (var (keyword, message) in results.Errors)
            {
                errors.Add(pointer + ": " + Describe(keyword, message, results, schemaRoot, instanceRoot));
            }
        }

        if (results.Details is { } details)
        {
            foreach (var detail in details)
            {
                Collect(detail, schemaRoot, instanceRoot, errors);
            }
        }
    }

    private static string Describe(string keyword, string message, EvaluationResults results, JsonElement schemaRoot, JsonElement instanceRoot)
    {
        if (keyword is not ("enum" or "const" or "pattern"))
        {
            return LowerFirst(message);
        }

        // The library's messages for these do not name what was expected; read it from the schema.
        var received = Resolve(instanceRoot, results.InstanceLocation.ToString());
        var expected = Resolve(schemaRoot, SchemaPointer(results) + "/" + keyword);
        if (expected is null)
        {
            return LowerFirst(message);
        }

        var got = received is { } value ? ", got " + Compact(value) : string.Empty;
        return keyword switch
        {
            "enum" => "value must be one of " + Compact(expected.Value) + got,
            "const" => "value must be " + Compact(expected.Value) + got,
            _ => "value must match the pattern " + expected.Value.GetString() + got,
        };
    }

    private static string SchemaPointer(EvaluationResults results)
    {
        var fragment = results.SchemaLocation.Fragment;
        return Uri.UnescapeDataString(fragment.StartsWith('#') ? fragment[1..] : fragment);
    }

    private static JsonElement? Resolve(JsonElement root, string pointer)
    {
        var current = root;
        if (pointer.Length == 0)
        {
            return current;
        }

        foreach (var raw in pointer.TrimStart('/').Split('/'))
        {
            var token = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(token, out var child))
            {
                current = child;
            }
            else if (current.ValueKind == JsonValueKind.Array
                && int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
                && index < current.GetArrayLength())
            {
                current = current[index];
            }
            else
            {
                return null;
            }
        }

        return current;
    }

    private static string Compact(JsonElement element) => JsonSerializer.Serialize(element);

    private static string LowerFirst(string message) =>
        message.Length > 0 && char.IsUpper(message[0]) ? char.ToLowerInvariant(message[0]) + message[1..] : message;

    private sealed record CompiledSchema(JsonSchema Schema, JsonDocument Document);
}
