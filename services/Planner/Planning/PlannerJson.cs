using System.Text.Json;
using System.Text.Json.Serialization;

namespace Agents.Planner.Planning;

/// <summary>JSON settings for everything the planner stores or serves: web defaults, enums as camelCase strings.</summary>
internal static class PlannerJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
