using Agents.Governance.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Agents.Governance.Policies;

/// <summary>A tenant's effective policy and where it came from.</summary>
public sealed record EffectivePolicy(string TenantId, int Version, bool IsDefault, PolicyDocument Document);

/// <summary>What a decision reads first: the tenant's current policy and the tools whose kill switch is on.</summary>
public sealed record TenantControls(EffectivePolicy Policy, IReadOnlyList<string> KilledTools)
{
    /// <summary>Whether the whole tenant is switched off.</summary>
    public bool TenantKilled => KilledTools.Contains(KillSwitch.TenantWide, StringComparer.Ordinal);

    /// <summary>Why a call of <paramref name="tool"/> is switched off, or null.</summary>
    public string? KilledReason(string tool) =>
        TenantKilled ? $"kill switch is on for tenant '{Policy.TenantId}'"
        : KilledTools.Contains(tool, StringComparer.Ordinal) ? $"kill switch is on for tool '{tool}'"
        : null;
}

/// <summary>
/// Reads which version of the tenant's policy is current from the database on every decision (one indexed lookup of
/// the version alone), so a change takes effect on the next decision on every replica without cache invalidation. A
/// version's document never changes once stored, so its parsed and validated form is kept in
/// <see cref="PolicyDocumentCache"/> and the document is read and validated only the first time a version is used.
/// </summary>
public sealed class PolicyStore(GovernanceDbContext db, PolicyDocumentCache cache)
{
    // The current version and the switches that are on, in one statement: what every decision reads first.
    private const string ControlsSql =
        """
        SELECT (SELECT max(version) FROM policies WHERE tenant_id = $1),
               ARRAY(SELECT tool FROM kill_switches WHERE tenant_id = $1 AND enabled ORDER BY tool)
        """;

    public async Task<EffectivePolicy> GetCurrentAsync(string tenantId, CancellationToken cancellationToken)
    {
        var version = await db.Policies.AsNoTracking()
            .Where(p => p.TenantId == tenantId)
            .OrderByDescending(p => p.Version)
            .Select(p => (int?)p.Version)
            .FirstOrDefaultAsync(cancellationToken);
        return await ForVersionAsync(tenantId, version, cancellationToken);
    }

    /// <summary>
    /// The tenant's current policy and the tools whose kill switch is on (<see cref="KillSwitch.TenantWide"/> for the whole
    /// tenant), read in one round trip inside the caller's transaction when it has one: a decision's first read.
    /// </summary>
    public async Task<TenantControls> GetControlsAsync(string tenantId, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var opened = connection.State != System.Data.ConnectionState.Open;
        if (opened)
        {
            await db.Database.OpenConnectionAsync(cancellationToken);
        }

        int? version;
        string[] killed;
        try
        {
            await using var command = new NpgsqlCommand(ControlsSql, connection, (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction());
            command.Parameters.Add(new NpgsqlParameter { Value = tenantId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            version = reader.IsDBNull(0) ? null : reader.GetInt32(0);
            killed = reader.GetFieldValue<string[]>(1);
        }
        finally
        {
            if (opened)
            {
                await db.Database.CloseConnectionAsync();
            }
        }

        return new TenantControls(await ForVersionAsync(tenantId, version, cancellationToken), killed);
    }

    private async Task<EffectivePolicy> ForVersionAsync(string tenantId, int? version, CancellationToken cancellationToken)
    {
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
