using Agents.Governance.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Policies;

/// <summary>A tenant's effective policy and where it came from.</summary>
public sealed record EffectivePolicy(string TenantId, int Version, bool IsDefault, PolicyDocument Document);

/// <summary>
/// Reads which version of the tenant's policy is current from the database on every decision (one indexed lookup of
/// the version alone), so a change takes effect on the next decision on every replica without cache invalidation. A
/// version's document never changes once stored, so its parsed and validated form is kept in
/// <see cref="PolicyDocumentCache"/> and the document is read and validated only the first time a version is used.
/// </summary>
public sealed class PolicyStore(GovernanceDbContext db, PolicyDocumentCache cache)
{
    public async Task<EffectivePolicy> GetCurrentAsync(string tenantId, CancellationToken cancellationToken)
    {
        var version = await db.Policies.AsNoTracking()
            .Where(p => p.TenantId == tenantId)
            .OrderByDescending(p => p.Version)
            .Select(p => (int?)p.Version)
            .FirstOrDefaultAsync(cancellationToken);
        if (version is null)
        {
            return new EffectivePolicy(tenantId, 0, true, PolicyDefaults.Default);
        }

        if (cache.TryGet(tenantId, version.Value) is { } cached)
        {
            return cached;
        }

        var latest = await db.Policies.AsNoTracking().SingleAsync(p => p.TenantId == tenantId && p.Version == version, cancellationToken);

        // Stored versions were validated on write; a failure here means the row was changed by hand.
        var document = PolicyValidator.Validate(latest.Document, out var errors)
            ?? throw new InvalidOperationException($"Stored policy version {latest.Version} of tenant '{tenantId}' is invalid: {string.Join("; ", errors.Select(e => e.Pointer + " " + e.Message))}");
        return cache.Add(new EffectivePolicy(tenantId, latest.Version, false, document));
    }
}

/// <summary>Parsed policy versions by tenant: the newest one seen for each tenant (versions are immutable once stored).</summary>
public sealed class PolicyDocumentCache
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, EffectivePolicy> _latest = new(StringComparer.Ordinal);

    public EffectivePolicy? TryGet(string tenantId, int version) =>
        _latest.TryGetValue(tenantId, out var policy) && policy.Version == version ? policy : null;

    public EffectivePolicy Add(EffectivePolicy policy) =>
        _latest.AddOrUpdate(policy.TenantId, policy, (_, existing) => existing.Version > policy.Version ? existing : policy);
}
