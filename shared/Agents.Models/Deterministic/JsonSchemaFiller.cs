using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Agents.Models.Deterministic;

/// <summary>
/// Builds a JSON value valid against a JSON schema, deterministically from the prompt: the fallback of the
/// deterministic provider when no responder is selected.
/// </summary>
/// <remarks>
/// Supported: <c>type</c> (including type arrays; <c>null</c> is chosen only when it is the only type),
/// <c>properties</c> (every declared property is filled), <c>items</c>, <c>prefixItems</c>,
/// <c>minItems</c>/<c>maxItems</c>, <c>enum</c>, <c>const</c>, <c>anyOf</c>/<c>oneOf</c> (the first
/// non-null branch), <c>allOf</c> (object branches merged), local <c>$ref</c> (<c>#/$defs/..</c>,
/// <c>#/definitions/..</c>), <c>minimum</c>/<c>maximum</c> (and exclusive forms), integer <c>multipleOf</c>,
/// <c>minLength</c>/<c>maxLength</c> and common string <c>format</c>s. Not supported: <c>pattern</c>,
/// <c>if</c>/<c>then</c>/<c>else</c>, <c>not</c>, <c>dependentSchemas</c>; a schema that needs them needs a responder.
/// Strings are excerpts of the prompt; numbers, booleans and enum choices come from a stable hash of the
/// prompt and the value's path, so a different prompt gives different values and the same prompt the same.
/// </remarks>
internal sealed class JsonSchemaFiller
{
    private const int MaxDepth = 64;
    private const int ExcerptWords = 8;

    private readonly JsonElement _root;
    private readonly string _seed;
    private readonly IReadOnlyList<string> _words;

    private JsonSchemaFiller(JsonElement root, string seed, string wordSource)
    {
        _root = root;
        _seed = seed;
        var words = StableHash.SplitWords(StableHash.Normalize(wordSource));
        _words = words.Count > 0 ? words : ["deterministic"];
    }

    public static string Fill(JsonElement schema, DeterministicRequest request)
    {
        var filler = new JsonSchemaFiller(schema, request.Prompt, request.LastUserText);
        var value = filler.Value(schema, "$", 0);
        return value?.ToJsonString() ?? "null";
    }

    private JsonNode? Value(JsonElement schema, string path, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidOperationException($"The JSON schema nests deeper than {MaxDepth} levels at {path}; register a deterministic responder for it.");
        }

        if (schema.ValueKind == JsonValueKind.True)
        {
            return JsonValue.Create(Excerpt(path));
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (schema.TryGetProperty("$ref", out var reference) && reference.GetString() is { } pointer)
        {
            return Value(Resolve(pointer, path), path, depth + 1);
        }

        if (schema.TryGetProperty("const", out var constant))
        {
            return JsonNode.Parse(constant.GetRawText());
        }

        if (schema.TryGetProperty("enum", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
        {
            var index = (int)(Hash(path) % (ulong)choices.GetArrayLength());
            return JsonNode.Parse(choices[index].GetRawText());
        }

        if (schema.TryGetProperty("allOf", out var allOf) && allOf.ValueKind == JsonValueKind.Array)
        {
            return AllOf(schema, allOf, path, depth);
        }

        foreach (var keyword in (string[])["anyOf", "oneOf"])
        {
            if (schema.TryGetProperty(keyword, out var branches) && branches.ValueKind == JsonValueKind.Array && branches.GetArrayLength() > 0)
            {
                var branch = branches.EnumerateArray().FirstOrDefault(b => !IsNullOnly(b), branches[0]);
                return Value(branch, path, depth + 1);
            }
        }

        return TypeOf(schema) switch
        {
            "object" => ObjectValue(schema, path, depth),
            "array" => ArrayValue(schema, path, depth),
            "string" => JsonValue.Create(StringValue(schema, path)),
            "integer" => JsonValue.Create(IntegerValue(schema, path)),
            "number" => JsonValue.Create(NumberValue(schema, path)),
            "boolean" => JsonValue.Create(Hash(path) % 2 == 0),
            _ => null,
        };
    }

    private static string TypeOf(JsonElement schema)
    {
        if (schema.TryGetProperty("type", out var type))
        {
            if (type.ValueKind == JsonValueKind.String)
            {
                return type.GetString()!;
            }

            if (type.ValueKind == JsonValueKind.Array)
            {
                var names = type.EnumerateArray().Select(t => t.GetString()).OfType<string>().ToList();
                return names.FirstOrDefault(n => n != "null") ?? "null";
            }
        }

        if (schema.TryGetProperty("properties", out _))
        {
            return "object";
        }

        return schema.TryGetProperty("items", out _) || schema.TryGetProperty("prefixItems", out _) ? "array" : "string";
    }

    private static bool IsNullOnly(JsonElement schema) =>
        schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("type", out var type) &&
        type.ValueKind == JsonValueKind.String && type.GetString() == "null";

    private JsonElement Resolve(string pointer, string path)
    {
        if (!pointer.StartsWith('#'))
        {
            throw new InvalidOperationException($"The JSON schema refers to '{pointer}' at {path}; only local references (#/...) are supported.");
        }

        var current = _root;
        foreach (var raw in pointer.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var segment = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(segment, out var next))
            {
                current = next;
            }
            else if (current.ValueKind == JsonValueKind.Array && int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < current.GetArrayLength())
            {
                current = current[index];
            }
            else
            {
                throw new InvalidOperationException($"The JSON schema reference '{pointer}' at {path} does not resolve.");
            }
        }

        return current;
    }

    private JsonNode? AllOf(JsonElement schema, JsonElement allOf, string path, int depth)
    {
        // The schema's own properties first, then each branch's; object branches merge into one object.
        var merged = ObjectValue(schema, path, depth);
        JsonNode? nonObject = null;
        foreach (var part in allOf.EnumerateArray())
        {
            var value = Value(part, path, depth + 1);
            if (value is JsonObject obj)
            {
                foreach (var name in obj.Select(p => p.Key).ToList())
                {
                    var node = obj[name];
                    obj.Remove(name);
                    merged[name] = node;
                }
            }
            else
            {
                nonObject ??= value;
            }
        }

        return merged.Count > 0 || nonObject is null ? merged : nonObject;
    }

    private JsonObject ObjectValue(JsonElement schema, string path, int depth)
    {
        var result = new JsonObject();
        if (schema.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in properties.EnumerateObject())
            {
                result[property.Name] = Value(property.Value, $"{path}.{property.Name}", depth + 1);
            }
        }

        return result;
    }

    private JsonArray ArrayValue(JsonElement schema, string path, int depth)
    {
        var min = Int(schema, "minItems") ?? 0;
        var max = Int(schema, "maxItems") ?? int.MaxValue;
        var prefix = schema.TryGetProperty("prefixItems", out var prefixItems) && prefixItems.ValueKind == JsonValueKind.Array
            ? prefixItems.EnumerateArray().ToList()
            : [];

        // One item shows the shape; deep in a recursive schema, only what is required.
        var count = Math.Min(Math.Max(Math.Max(min, depth > 8 ? 0 : 1), prefix.Count), max);
        var array = new JsonArray();
        for (var i = 0; i < count; i++)
        {
            var itemPath = $"{path}[{i}]";
            if (i < prefix.Count)
            {
                array.Add(Value(prefix[i], itemPath, depth + 1));
            }
            else if (schema.TryGetProperty("items", out var items) && items.ValueKind is JsonValueKind.Object or JsonValueKind.True)
            {
                array.Add(Value(items, itemPath, depth + 1));
            }
            else
            {
                array.Add(JsonValue.Create(Excerpt(itemPath)));
            }
        }

        return array;
    }

    private string StringValue(JsonElement schema, string path)
    {
        var hash = Hash(path);
        var format = schema.TryGetProperty("format", out var f) ? f.GetString() : null;
        var value = format switch
        {
            "date-time" => new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(hash % 5_000_000).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            "date" => new DateOnly(2000, 1, 1).AddDays((int)(hash % 10_000)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            "time" => TimeOnly.FromTimeSpan(TimeSpan.FromSeconds(hash % 86_400)).ToString("HH:mm:ss", CultureInfo.InvariantCulture) + "Z",
            "duration" => $"PT{(hash % 3600) + 1}S",
            "email" or "idn-email" => $"user{hash % 10_000}@example.invalid",
            "hostname" or "idn-hostname" => $"host{hash % 10_000}.example.invalid",
            "uri" or "url" or "iri" or "uri-reference" or "iri-reference" => $"https://example.invalid/{Slug(path)}",
            "uuid" => GuidFrom(hash).ToString(),
            "ipv4" => $"192.0.2.{(hash % 254) + 1}",
            "ipv6" => $"2001:db8::{(hash % 0xfffe) + 1:x}",
            _ => Excerpt(path),
        };

        var minLength = Int(schema, "minLength") ?? 0;
        var maxLength = Int(schema, "maxLength") ?? int.MaxValue;
        while (value.Length < minLength)
        {
            value += value.Length == 0 ? "x" : " " + value;
        }

        return StableHash.Truncate(value, maxLength);
    }

    private long IntegerValue(JsonElement schema, string path)
    {
        var low = Number(schema, "minimum") is { } min ? (long)Math.Ceiling(min) : Number(schema, "exclusiveMinimum") is { } xmin ? (long)Math.Floor(xmin) + 1 : (long?)null;
        var high = Number(schema, "maximum") is { } max ? (long)Math.Floor(max) : Number(schema, "exclusiveMaximum") is { } xmax ? (long)Math.Ceiling(xmax) - 1 : (long?)null;
        var from = low ?? (high is { } h ? Math.Min(0, h - 99) : 0);
        var to = high ?? (from + 99);
        var span = (ulong)Math.Max(0, to - from) + 1;
        var value = from + (long)(Hash(path) % span);

        if (Number(schema, "multipleOf") is { } step && step >= 1 && step == Math.Floor(step))
        {
            var multiple = (long)step;
            var rounded = (long)Math.Ceiling(value / (double)multiple) * multiple;
            value = rounded <= to ? rounded : (long)Math.Ceiling(from / (double)multiple) * multiple;
        }

        return value;
    }

    private double NumberValue(JsonElement schema, string path)
    {
        var low = Number(schema, "minimum") ?? Number(schema, "exclusiveMinimum");
        var high = Number(schema, "maximum") ?? Number(schema, "exclusiveMaximum");
        var fraction = ((Hash(path) % 99) + 1) / 100.0; // strictly between 0 and 1: inside exclusive bounds too
        return (low, high) switch
        {
            ({ } a, { } b) => a + ((b - a) * fraction),
            ({ } a, null) => a + (fraction * 100),
            (null, { } b) => b - (fraction * 100),
            _ => fraction * 100,
        };
    }

    private static int? Int(JsonElement schema, string name) =>
        schema.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) ? number : null;

    private static double? Number(JsonElement schema, string name) =>
        schema.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;

    private ulong Hash(string path) => StableHash.Of(_seed, path);

    private string Excerpt(string path)
    {
        var start = (int)(Hash(path) % (ulong)_words.Count);
        var count = Math.Min(ExcerptWords, _words.Count);
        return string.Join(' ', Enumerable.Range(0, count).Select(i => _words[(start + i) % _words.Count]));
    }

    private string Slug(string path) =>
        new string(Excerpt(path).ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-') is { Length: > 0 } slug
            ? slug
            : "item";

    private static Guid GuidFrom(ulong hash)
    {
        Span<byte> bytes = stackalloc byte[16];
        BitConverter.TryWriteBytes(bytes, hash);
        BitConverter.TryWriteBytes(bytes[8..], ~hash);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4 layout
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes);
    }
}
