using System.Text.Json;
using System.Text.RegularExpressions;

namespace Agents.Gateway.Mcp;

/// <summary>
/// Which tools a tenant's policy document lets a user's roles call: a role whose <c>tools</c> patterns
/// match the tool and a role whose <c>scopes</c> patterns match its required scope (an empty scope needs
/// none). Only decides what <c>tools/list</c> shows; governance still authorizes every call.
/// </summary>
internal sealed class PolicyGrants
{
    private readonly List<Regex> tools = [];
    private readonly List<Regex> scopes = [];

    public PolicyGrants(JsonElement document, IEnumerable<string> roles)
    {
        if (!document.TryGetProperty("roles", out var definitions) || definitions.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        foreach (var role in roles)
        {
            if (!definitions.TryGetProperty(role, out var grant) || grant.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            tools.AddRange(Patterns(grant, "tools"));
            scopes.AddRange(Patterns(grant, "scopes"));
        }
    }

    public bool Allows(string tool, string? requiredScope) =>
        tools.Any(p => p.IsMatch(tool)) && (string.IsNullOrEmpty(requiredScope) || scopes.Any(p => p.IsMatch(requiredScope)));

    private static IEnumerable<Regex> Patterns(JsonElement grant, string property) =>
        grant.TryGetProperty(property, out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray()
                .Where(p => p.ValueKind == JsonValueKind.String)
                .Select(p => new Regex("^" + string.Join(".*", p.GetString()!.Split('*').Select(Regex.Escape)) + "$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)))
            : [];
}
