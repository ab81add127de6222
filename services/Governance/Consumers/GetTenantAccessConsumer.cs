using Agents.Contracts;
using Agents.Governance.Policies;
using MassTransit;

namespace Agents.Governance.Consumers;

/// <summary>Answers <see cref="GetTenantAccess"/> from the tenant's current policy (the default policy when it has none).</summary>
public sealed class GetTenantAccessConsumer(PolicyStore policies) : IConsumer<GetTenantAccess>
{
    public async Task Consume(ConsumeContext<GetTenantAccess> context)
    {
        var policy = await policies.GetCurrentAsync(context.Message.TenantId, context.CancellationToken);
        await context.RespondAsync(AccessOf(policy));
    }

    internal static TenantAccess AccessOf(EffectivePolicy policy)
    {
        var document = policy.Document;
        return new TenantAccess(
            policy.TenantId,
            policy.Version,
            document.AdminRole,
            document.ApprovalRoles,
            document.Roles.ToDictionary(r => r.Key, r => new RoleGrant(r.Value.Tools, r.Value.Scopes), StringComparer.Ordinal));
    }
}
