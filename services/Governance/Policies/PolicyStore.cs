using Agents.Governance.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Policies;

/// <summary>A tenant's effective policy and where it came from.</summary>
public sealed record EffectivePolicy(string TenantId, int Version, bool IsDefault, PolicyDocument Document);

/// <summary>
/// Reads the tenant's current policy from the database on every decision (one indexed lookup), so a
/// change takes effect on the next decision on every replica without cache invalidation.
/// </summary>
public sealed class PolicyStore(GovernanceDbContext db)
{
    public async Task<EffectivePolicy> GetCurrentAsync(string tenantId, CancellationToken cancellationToken)
    {
        var latest = await db.Policies.AsNoTracking()
            .Where(p => p.TenantId == tenantId)
            .OrderByDescending(p => p.Version)
            .FirstOrDefaultAsync(cancellationToken);
        if (latest is null)
        {
            return new EffectivePolicy(tenantId, 0, true, PolicyDefaults.Default);
        }

        // Stored versions were validated on write; a failure here means the row was changed by hand.
        var document = PolicyValidator.Validate(latest.Document, out var errors)
            ?? throw new InvalidOperationException($"Stored policy version {latest.Version} of tenant '{tenantId}' is invalid: {string.Join("; ", errors.Select(e => e.Pointer + " " + e.Message))}");
        return new EffectivePolicy(tenantId, latest.Version, false, document);
    }
}
