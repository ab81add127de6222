using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Agents.Tools.Sdk.Schema;

/// <summary>
/// The JSON rules every tool follows: camelCase, enums as camelCase strings, strict numbers,
/// unknown properties rejected, non-nullable reference types and constructor parameters without a
/// default are required. The generated schemas and the argument validation both come from these
/// options, so the schema a caller sees is the one the tool enforces.
/// </summary>
public static class ToolJson
{
    /// <summary>The serializer options for tool inputs and outputs (read-only).</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    /// <summary>The JSON Schema (draft 2020-12) of <paramref name="type"/>, with DataAnnotations and descriptions.</summary>
    public static JsonObject SchemaFor(Type type)
    {
        var exporter = new JsonSchemaExporterOptions
        {
            TreatNullObliviousAsNonNullable = true,
            TransformSchemaNode = Annotate,
        };
        var node = Options.GetJsonSchemaAsNode(type, exporter);
        if (node is not JsonObject schema)
        {
            throw new InvalidOperationException($"The schema of {type.Name} is not an object schema.");
        }

        var result = new JsonObject { ["$schema"] = "https://json-schema.org/draft/2020-12/schema", ["title"] = type.Name };
        foreach (var (key, value) in schema.ToList())
        {
            schema.Remove(key);
            result[key] = value;
        }

        return result;
    }

    /// <summary>
    /// Parses and validates <paramref name="json"/> as <typeparamref name="T"/>. Returns null and the
    /// list of problems (each with its JSON path) when the arguments do not fit.
    /// </summary>
    public static T? TryParse<T>(string? json, out IReadOnlyList<string> errors)
        where T : notnull
    {
        var problems = new List<string>();
        errors = problems;
        if (string.IsNullOrWhiteSpace(json))
        {
            problems.Add("$: the arguments are empty; expected a JSON object.");
            return default;
        }

        T? value;
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                problems.Add($"$: expected a JSON object, got {document.RootElement.ValueKind.ToString().ToLowerInvariant()}.");
                return default;
            }

            value = document.RootElement.Deserialize<T>(Options);
        }
        catch (JsonException ex)
        {
            problems.Add(Describe(ex));
            return default;
        }

        if (value is null)
        {
            problems.Add("$: expected a JSON object, got null.");
            return default;
        }

        Validate(value, Options.GetTypeInfo(typeof(T)), "$", problems, depth: 0);
        return problems.Count == 0 ? value : default;
    }

    /// <summary>Serializes a tool's input or output with <see cref="Options"/>.</summary>
    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>Deserializes a stored input or output.</summary>
    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException($"Stored JSON for {typeof(T).Name} is null.");

    /// <summary>
    /// A stable SHA-256 (hex) of <paramref name="json"/> after canonicalization (object properties
    /// sorted, insignificant whitespace dropped), so that the same arguments written differently
    /// hash the same.
    /// </summary>
    public static string ArgumentsHash(string json)
    {
        var node = JsonNode.Parse(json);
        var canonical = Canonicalize(node)?.ToJsonString() ?? "null";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            NumberHandling = JsonNumberHandling.Strict,
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { MarkRequiredMembers } },
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.MakeReadOnly();
        return options;
    }

    // [Required] on a property or on the record's constructor parameter makes the member required.
    private static void MarkRequiredMembers(JsonTypeInfo typeInfo)
    {
        if (typeInfo.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        foreach (var property in typeInfo.Properties)
        {
            if (AttributesOf(property).OfType<RequiredAttribute>().Any())
            {
                property.IsRequired = true;
            }
        }
    }

    /// <summary>The JSON names of <paramref name="type"/>'s members that carry <typeparamref name="TAttribute"/> (on the property or its constructor parameter).</summary>
    public static IEnumerable<(string Name, TAttribute Attribute)> MemberAttributes<TAttribute>(Type type)
        where TAttribute : Attribute
    {
        var info = Options.GetTypeInfo(type);
        if (info.Kind != JsonTypeInfoKind.Object)
        {
            yield break;
        }

        foreach (var property in info.Properties)
        {
            if (AttributesOf(property).OfType<TAttribute>().FirstOrDefault() is { } attribute)
            {
                yield return (property.Name, attribute);
            }
        }
    }

    private static IEnumerable<Attribute> AttributesOf(JsonPropertyInfo property)
    {
        var own = property.AttributeProvider?.GetCustomAttributes(inherit: true).OfType<Attribute>() ?? [];
        var parameter = property.AssociatedParameter?.AttributeProvider?.GetCustomAttributes(inherit: true).OfType<Attribute>() ?? [];
        return own.Concat(parameter);
    }

    private static JsonNode Annotate(JsonSchemaExporterContext context, JsonNode schema)
    {
        if (schema is not JsonObject node)
        {
            return schema;
        }

        IEnumerable<Attribute> attributes = context.PropertyInfo is { } property
            ? AttributesOf(property)
            : context.TypeInfo.Type.GetCustomAttributes(inherit: true).OfType<Attribute>();
        var isArray = context.TypeInfo.Kind == JsonTypeInfoKind.Enumerable;
        foreach (var attribute in attributes)
        {
            switch (attribute)
            {
                case DescriptionAttribute d:
                    node["description"] = d.Description;
                    break;
                case RangeAttribute r:
                    node["minimum"] = JsonValue.Create(Convert.ToDouble(r.Minimum, System.Globalization.CultureInfo.InvariantCulture));
                    node["maximum"] = JsonValue.Create(Convert.ToDouble(r.Maximum, System.Globalization.CultureInfo.InvariantCulture));
                    break;
                case StringLengthAttribute s:
                    node["maxLength"] = s.MaximumLength;
                    if (s.MinimumLength > 0)
                    {
                        node["minLength"] = s.MinimumLength;
                    }

                    break;
                case MaxLengthAttribute m:
                    node[isArray ? "maxItems" : "maxLength"] = m.Length;
                    break;
                case MinLengthAttribute m:
                    node[isArray ? "minItems" : "minLength"] = m.Length;
                    break;
                case RegularExpressionAttribute p:
                    node["pattern"] = p.Pattern;
                    break;
                case EmailAddressAttribute:
                    node["format"] = "email";
                    break;
                case UrlAttribute:
                    node["format"] = "uri";
                    break;
                case RequiredAttribute { AllowEmptyStrings: false } when context.TypeInfo.Type == typeof(string) && !node.ContainsKey("minLength"):
                    node["minLength"] = 1;
                    break;
            }
        }

        return node;
    }

    private static void Validate(object value, JsonTypeInfo typeInfo, string path, List<string> problems, int depth)
    {
        if (depth > 16)
        {
            return;
        }

        if (typeInfo.Kind == JsonTypeInfoKind.Enumerable && value is System.Collections.IEnumerable items && value is not string)
        {
            var index = 0;
            foreach (var item in items)
            {
                if (item is not null && IsComplex(item.GetType()))
                {
                    Validate(item, Options.GetTypeInfo(item.GetType()), $"{path}[{index}]", problems, depth + 1);
                }

                index++;
            }

            return;
        }

        if (typeInfo.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        foreach (var property in typeInfo.Properties)
        {
            if (property.Get is null)
            {
                continue;
            }

            var member = property.Get(value);
            var memberPath = $"{path}.{property.Name}";
            var context = new ValidationContext(value) { MemberName = property.Name, DisplayName = property.Name };
            foreach (var attribute in AttributesOf(property).OfType<ValidationAttribute>())
            {
                var result = attribute.GetValidationResult(member, context);
                if (result != ValidationResult.Success && result is not null)
                {
                    problems.Add($"{memberPath}: {result.ErrorMessage}");
                }
            }

            if (member is not null && IsComplex(member.GetType()))
            {
                Validate(member, Options.GetTypeInfo(member.GetType()), memberPath, problems, depth + 1);
            }
        }
    }

    private static bool IsComplex(Type type) =>
        !type.IsPrimitive && !type.IsEnum && type != typeof(string) && type != typeof(decimal)
        && type != typeof(DateTime) && type != typeof(DateTimeOffset) && type != typeof(Guid)
        && type != typeof(TimeSpan) && type != typeof(DateOnly) && type != typeof(TimeOnly) && type != typeof(Uri)
        && Nullable.GetUnderlyingType(type) is null;

    private static string Describe(JsonException ex)
    {
        // System.Text.Json's messages name .NET types; keep the useful part and the JSON path.
        var message = ex.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut > 0)
        {
            message = message[..cut];
        }

        var path = ex.Path ?? "$";
        return $"{path}: {message}";
    }

    private static JsonNode? Canonicalize(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, Canonicalize(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Canonicalize).ToArray()),
        null => null,
        _ => JsonNode.Parse(node.ToJsonString()),
    };
}
