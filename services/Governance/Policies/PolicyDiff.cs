using System.Text.Json;

namespace Agents.Governance.Policies;

/// <summary>One difference between two policy versions: where (a JSON pointer), and the value before and after (absent = null).</summary>
public sealed record PolicyChange(string Pointer, JsonElement? Before, JsonElement? After);

/// <summary>
/// What changed between two policy documents, for the audit: both are compared in their complete form (defaults filled
/// in), so a change is listed by the setting it changes, not by how the document was written.
/// </summary>
public static class PolicyDiff
{
    /// <summary>Most changes listed; a larger rewrite is listed up to here and then marked as truncated.</summary>
    public const int MaxChanges = 200;

    public static IReadOnlyList<PolicyChange> Between(PolicyDocument before, PolicyDocument after)
    {
        using var old = JsonDocument.Parse(before.ToJson());
        using var @new = JsonDocument.Parse(after.ToJson());
        var changes = new List<PolicyChange>();
        Compare(old.RootElement, @new.RootElement, string.Empty, changes);
        if (changes.Count > MaxChanges)
        {
            changes.RemoveRange(MaxChanges, changes.Count - MaxChanges);
            changes.Add(new PolicyChange(string.Empty, null, JsonSerializer.SerializeToElement("(more changes not listed)")));
        }

        return changes;
    }

    private static void Compare(JsonElement? before, JsonElement? after, string pointer, List<PolicyChange> changes)
    {
        if (changes.Count > MaxChanges)
        {
            return;
        }

        if (before is { ValueKind: JsonValueKind.Object } a && after is { ValueKind: JsonValueKind.Object } b)
        {
            var names = a.EnumerateObject().Select(p => p.Name).Union(b.EnumerateObject().Select(p => p.Name), StringComparer.Ordinal);
            foreach (var name in names.Order(StringComparer.Ordinal))
            {
                Compare(
                    a.TryGetProperty(name, out var x) ? x : null,
                    b.TryGetProperty(name, out var y) ? y : null,
                    $"{pointer}/{name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)}",
                    changes);
            }

            return;
        }

        if (before is { } left && after is { } right && JsonElement.DeepEquals(left, right))
        {
            return;
        }

        if (before is null && after is null)
        {
            return;
        }

        changes.Add(new PolicyChange(pointer, before?.Clone(), after?.Clone()));
    }
}
