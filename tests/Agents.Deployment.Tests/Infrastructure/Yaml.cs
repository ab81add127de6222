using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Agents.Deployment.Tests.Infrastructure;

/// <summary>YAML to <see cref="JsonNode"/> (every scalar becomes a string), one node per document.</summary>
internal static class Yaml
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder().Build();

    public static List<JsonObject> ParseDocuments(string text)
    {
        var documents = new List<JsonObject>();
        var parser = new Parser(new StringReader(text));
        parser.Consume<StreamStart>();
        while (parser.Accept<DocumentStart>(out _))
        {
            if (ToNode(Deserializer.Deserialize<object?>(parser)) is JsonObject document)
            {
                documents.Add(document);
            }
        }

        return documents;
    }

    public static JsonObject ParseDocument(string text) =>
        ParseDocuments(text).SingleOrDefault() ?? throw new InvalidOperationException("The YAML text holds no mapping document.");

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        IDictionary<object, object?> map => new JsonObject(map.Select(p => KeyValuePair.Create(Convert.ToString(p.Key, System.Globalization.CultureInfo.InvariantCulture)!, ToNode(p.Value)))),
        IList<object?> list => new JsonArray([.. list.Select(ToNode)]),
        _ => JsonValue.Create(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)),
    };
}

/// <summary>Navigation helpers over parsed YAML.</summary>
internal static class NodeExtensions
{
    public static string? Str(this JsonNode? node, params string[] path)
    {
        var current = node;
        foreach (var segment in path)
        {
            current = current is JsonObject o ? o[segment] : null;
        }

        return current is JsonValue v ? v.ToString() : null;
    }

    public static JsonNode? At(this JsonNode? node, params string[] path)
    {
        var current = node;
        foreach (var segment in path)
        {
            current = current is JsonObject o ? o[segment] : null;
        }

        return current;
    }

    public static IEnumerable<JsonObject> Objects(this JsonNode? node) =>
        node is JsonArray array ? array.OfType<JsonObject>() : [];

    public static IEnumerable<string> Strings(this JsonNode? node, params string[] path) =>
        node.At(path) is JsonArray array ? array.OfType<JsonValue>().Select(v => v.ToString()) : [];
}
