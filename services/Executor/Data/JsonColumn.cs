using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Agents.Executor.Data;

/// <summary>
/// Maps a property to a <c>jsonb</c> column. A tracked entity's JSON values count as changed whenever it is saved, so
/// in-place changes are always written: comparing them by value would serialize every document twice per save and
/// clone it on every load (the saga's plan, steps and the like on every transition) to spare an update the saga makes
/// anyway.
/// </summary>
internal static class JsonColumn
{
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    public static PropertyBuilder<T> HasJsonConversion<T>(this PropertyBuilder<T> property)
    {
        property.HasConversion(
            v => JsonSerializer.Serialize(v, Options),
            v => JsonSerializer.Deserialize<T>(v, Options)!,
            new ValueComparer<T>(
                (a, b) => a == null && b == null,
                v => 0,
                v => v))
            .HasColumnType("jsonb");
        return property;
    }

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        options.Converters.Add(new JsonStringEnumConverter());
        return options;
    }
}
