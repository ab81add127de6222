using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Agents.ServiceDefaults.Http;

/// <summary>
/// Compares a JSON body with the shape of the type it is read into: a field the type does not have, or <c>null</c>
/// where the type needs an object, a list or a value, is an error naming the field (<c>steps[0].allowed_tools</c>).
/// System.Text.Json itself ignores unknown fields and lets <c>null</c> through, so a misspelt field would otherwise
/// be silently dropped.
/// </summary>
public static class JsonBodyShape
{
    /// <summary>Most errors reported for one body.</summary>
    public const int MaxErrors = 20;

    /// <summary>Adds an error for every field of <paramref name="body"/> that <paramref name="type"/> does not accept.</summary>
    public static void Check(JsonElement body, Type type, JsonSerializerOptions options, IDictionary<string, List<string>> errors)
    {
        options.MakeReadOnly(populateMissingResolver: true);
        Visit(body, options.GetTypeInfo(type), options, string.Empty, errors);
    }

    private static void Visit(JsonElement value, JsonTypeInfo info, JsonSerializerOptions options, string path, IDictionary<string, List<string>> errors)
    {
        if (errors.Count >= MaxErrors || value.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object:
                if (value.ValueKind != JsonValueKind.Object)
                {
                    Add(errors, path, "must be a JSON object.");
                    return;
                }

                VisitObject(value, info, options, path, errors);
                break;
            case JsonTypeInfoKind.Enumerable:
                if (value.ValueKind != JsonValueKind.Array)
                {
                    Add(errors, path, "must be a JSON array.");
                    return;
                }

                var elements = options.GetTypeInfo(info.ElementType!);
                var index = 0;
                foreach (var element in value.EnumerateArray())
                {
                    Visit(element, elements, options, $"{path}[{index++}]", errors);
                }

                break;
            case JsonTypeInfoKind.Dictionary:
                if (value.ValueKind != JsonValueKind.Object)
                {
                    Add(errors, path, "must be a JSON object.");
                    return;
                }

                var values = options.GetTypeInfo(info.ElementType!);
                foreach (var entry in value.EnumerateObject())
                {
                    Visit(entry.Value, values, options, Join(path, entry.Name), errors);
                }

                break;
        }
    }

    private static void VisitObject(JsonElement value, JsonTypeInfo info, JsonSerializerOptions options, string path, IDictionary<string, List<string>> errors)
    {
        var comparison = options.PropertyNameCaseInsensitive ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
        var properties = new Dictionary<string, JsonPropertyInfo>(comparison);
        var acceptsAnyField = false;
        foreach (var property in info.Properties)
        {
            if (property.IsExtensionData)
            {
                acceptsAnyField = true;
            }
            else if (property.Set is not null || property.AssociatedParameter is not null)
            {
                properties.TryAdd(property.Name, property);
            }
        }

        foreach (var field in value.EnumerateObject())
        {
            var at = Join(path, field.Name);
            if (!properties.TryGetValue(field.Name, out var property))
            {
                if (!acceptsAnyField)
                {
                    var known = string.Join(", ", properties.Keys.Order(StringComparer.Ordinal).Select(k => $"'{k}'"));
                    Add(errors, at, $"is not a known field here; the known fields are {known}.");
                }

                continue;
            }

            if (field.Value.ValueKind == JsonValueKind.Null)
            {
                if (!property.IsSetNullable)
                {
                    Add(errors, at, "must not be null; leave the field out instead.");
                }

                continue;
            }

            Visit(field.Value, options.GetTypeInfo(property.PropertyType), options, at, errors);
        }
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static void Add(IDictionary<string, List<string>> errors, string path, string message)
    {
        var key = path.Length == 0 ? "body" : path;
        if (!errors.TryGetValue(key, out var list))
        {
            errors[key] = list = [];
        }

        list.Add(message);
    }
}
