namespace Agents.Contracts;

/// <summary>
/// Asks governance (request/response) who holds which power in a tenant under its current policy: answered with
/// <see cref="TenantAccess"/>. Services that decide what a caller may see (the executor's tasks, the tool registry)
/// keep the answer for a short while instead of holding copies of the policy.
/// </summary>
public sealed record GetTenantAccess(string TenantId);

/// <summary>
/// The parts of a tenant's current policy that say who may see what: the admin role, the roles that decide approvals
/// (the approver roles, the admin role and the escalation role), and each role's tool and scope patterns.
/// </summary>
/// <param name="TenantId">The tenant.</param>
/// <param name="PolicyVersion">The policy version this was read from (0: the default policy).</param>
/// <param name="AdminRole">The tenant's admin role.</param>
/// <param name="ApproverRoles">Every role that may decide an approval (approver roles, admin role, escalation role).</param>
/// <param name="Roles">Each role's tool name patterns and permission scope patterns (<c>*</c> matches any run of characters).</param>
public sealed record TenantAccess(
    string TenantId,
    int PolicyVersion,
    string AdminRole,
    IReadOnlyList<string> ApproverRoles,
    IReadOnlyDictionary<string, RoleGrant> Roles)
{
    /// <summary>True when <paramref name="principal"/> is an admin of this tenant.</summary>
    public bool IsAdmin(AgentPrincipal principal) => principal.TenantId == TenantId && principal.IsInRole(AdminRole);

    /// <summary>
    /// True when <paramref name="principal"/> may read and cancel every task of the tenant, not only their own: the
    /// admins and whoever may decide approvals (they must see what they approve).
    /// </summary>
    public bool MayActOnEveryTask(AgentPrincipal principal) =>
        principal.TenantId == TenantId && (principal.IsInRole(AdminRole) || ApproverRoles.Any(principal.IsInRole));

    /// <summary>
    /// True when one of <paramref name="principal"/>'s roles allows <paramref name="tool"/> and one grants its
    /// <paramref name="requiredScope"/> (an empty scope needs no grant): what governance's role check allows.
    /// </summary>
    public bool MayCall(AgentPrincipal principal, string tool, string? requiredScope) =>
        principal.TenantId == TenantId
        && principal.Roles.Any(r => Roles.TryGetValue(r, out var grant) && Wildcard.MatchesAny(grant.Tools, tool))
        && (string.IsNullOrEmpty(requiredScope)
            || principal.Roles.Any(r => Roles.TryGetValue(r, out var grant) && Wildcard.MatchesAny(grant.Scopes, requiredScope)));
}

/// <summary>What one role of a tenant's policy may call: tool name patterns and permission scope patterns.</summary>
public sealed record RoleGrant(IReadOnlyList<string> Tools, IReadOnlyList<string> Scopes);
