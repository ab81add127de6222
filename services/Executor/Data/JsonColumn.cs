using System.Runtime.CompilerServices;
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
/// anyway. A value that is only ever replaced, never changed in place (an immutable record, or a collection the code
/// assigns anew), is compared by reference instead: it is written only when it was replaced, so an update leaves a
/// large unchanged document (the plan, the request) and its TOAST chunks alone.
/// </summary>
internal static class JsonColumn
{
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    public static PropertyBuilder<T> HasJsonConversion<T>(this PropertyBuilder<T> property) =>
        property.HasJsonConversion(new ValueComparer<T>((a, b) => a == null && b == null, v => 0, v => v));

    /// <summary>A JSON column whose value is replaced, never changed in place: saved only when it was replaced.</summary>
    public static PropertyBuilder<T> HasReplacedJsonConversion<T>(this PropertyBuilder<T> property)
        where T : class? =>
        property.HasJsonConversion(new ValueComparer<T>((a, b) => ReferenceEquals(a, b), v => v == null ? 0 : RuntimeHelpers.GetHashCode(v), v => v));

    private static PropertyBuilder<T> HasJsonConversion<T>(this PropertyBuilder<T> property, ValueComparer<T> comparer)
    {
        property.HasConversion(
            v => JsonSerializer.Serialize(v, Options),
            v => JsonSerializer.Deserialize<T>(v, Options)!,
            comparer)
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
