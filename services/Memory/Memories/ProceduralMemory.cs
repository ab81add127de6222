using Agents.Memory.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Agents.Memory.Memories;

/// <summary>One version of a procedure (instruction, preference or policy) of an agent.</summary>
public sealed record ProcedureView(string Agent, string Name, int Version, string Content, string CreatedBy, DateTimeOffset CreatedAt);

/// <summary>The outcome of a write: the new version, or the current one when the expected version did not match.</summary>
public sealed record ProcedureWrite(ProcedureView? Written, int? CurrentVersion);

/// <summary>
/// Procedural memory: named instructions, preferences and policies per tenant and agent. Every
/// write appends a new version (nothing is overwritten); readers get the latest or a given version.
/// Optimistic concurrency: a writer may name the version it read, and loses with a conflict when
/// someone wrote in between.
/// </summary>
public sealed class ProceduralMemory(MemoryDbContext db, TimeProvider time)
{
    public async Task<ProcedureWrite> PutAsync(string tenantId, string agent, string name, string content, int? expectedVersion, string userId, CancellationToken cancellationToken)
    {
        var current = await Versions(tenantId, agent, name).MaxAsync(p => (int?)p.Version, cancellationToken) ?? 0;
        if (expectedVersion is { } expected && expected != current)
        {
            return new ProcedureWrite(null, current);
        }

        var entity = new ProcedureVersion
        {
            TenantId = tenantId,
            Agent = agent,
            Name = name,
            Version = current + 1,
            Content = content,
            CreatedBy = userId,
            CreatedAt = StoredTime.Now(time),
        };
        db.Procedures.Add(entity);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // Another writer took this version number first.
            db.ChangeTracker.Clear();
            return new ProcedureWrite(null, await Versions(tenantId, agent, name).MaxAsync(p => (int?)p.Version, cancellationToken) ?? 0);
        }

        return new ProcedureWrite(ToView(entity), null);
    }

    public async Task<ProcedureView?> GetAsync(string tenantId, string agent, string name, int? version, CancellationToken cancellationToken)
    {
        var query = Versions(tenantId, agent, name).AsNoTracking();
        query = version is { } v ? query.Where(p => p.Version == v) : query.OrderByDescending(p => p.Version);
        var entity = await query.FirstOrDefaultAsync(cancellationToken);
        return entity is null ? null : ToView(entity);
    }

    /// <summary>The latest version of every procedure of the agent.</summary>
    public async Task<IReadOnlyList<ProcedureView>> ListAsync(string tenantId, string agent, CancellationToken cancellationToken)
    {
        var all = await db.Procedures.AsNoTracking()
            .Where(p => p.TenantId == tenantId && p.Agent == agent)
            .ToListAsync(cancellationToken);
        return all.GroupBy(p => p.Name, StringComparer.Ordinal)
            .Select(g => ToView(g.MaxBy(p => p.Version)!))
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ToList();
    }

    private IQueryable<ProcedureVersion> Versions(string tenantId, string agent, string name) =>
        db.Procedures.Where(p => p.TenantId == tenantId && p.Agent == agent && p.Name == name);

    private static ProcedureView ToView(ProcedureVersion p) => new(p.Agent, p.Name, p.Version, p.Content, p.CreatedBy, p.CreatedAt);
}
