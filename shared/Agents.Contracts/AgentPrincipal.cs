namespace Agents.Contracts;

/// <summary>
/// Who is acting: the tenant, the user inside it, and the user's roles. Every message that
/// can cause work carries one, so that every service can enforce tenant scoping and permissions
/// without trusting the sender's claims about anyone else.
/// </summary>
/// <param name="TenantId">The tenant; every query is scoped by it.</param>
/// <param name="UserId">The user inside the tenant.</param>
/// <param name="Roles">The user's roles, as granted by the gateway's key or token.</param>
public sealed record AgentPrincipal(string TenantId, string UserId, IReadOnlyList<string> Roles)
{
    /// <summary>True when the principal holds <paramref name="role"/> (ordinal comparison).</summary>
    public bool IsInRole(string role) => Roles.Contains(role, StringComparer.Ordinal);
}
