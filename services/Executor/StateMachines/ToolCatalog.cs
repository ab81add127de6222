using Agents.Contracts;
using Agents.Executor.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Executor.StateMachines;

/// <summary>A tool as the executor needs to know it: its side-effect class and whether it can be compensated.</summary>
public sealed record CatalogTool(string Name, SideEffectClass SideEffect, bool Compensable);

/// <summary>
/// The executor's tool catalog, filled from <see cref="ToolAnnounced"/>. Stored (not only in memory) so that
/// every replica and a restarted executor agree on which completed steps need compensation.
/// </summary>
public interface IToolCatalog
{
    /// <summary>Inserts or updates the announced tool; an announcement older than the stored one changes nothing.</summary>
    Task UpsertAsync(ToolAnnounced announced, CancellationToken cancellationToken);

    /// <summary>The known tools among <paramref name="names"/>, by name.</summary>
    Task<IReadOnlyDictionary<string, CatalogTool>> FindAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken);
}

/// <summary>The catalog in the executor's database (table <c>tool_catalog</c>), through the message scope's context.</summary>
internal sealed class EfToolCatalog(ExecutorDbContext db, TimeProvider time) : IToolCatalog
{
    public async Task UpsertAsync(ToolAnnounced announced, CancellationToken cancellationToken)
    {
        var tool = announced.Tool;
        var receivedAt = time.GetUtcNow();

        // One statement, so that concurrent announcements (several replicas, several tool instances) cannot conflict.
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"""
            INSERT INTO tool_catalog (name, side_effect, compensable, version, announced_at, received_at)
            VALUES ({tool.Name}, {tool.SideEffect.ToString()}, {tool.Compensable}, {tool.Version}, {announced.AnnouncedAt}, {receivedAt})
            ON CONFLICT (name) DO UPDATE SET
                side_effect = excluded.side_effect, compensable = excluded.compensable, version = excluded.version,
                announced_at = excluded.announced_at, received_at = excluded.received_at
            WHERE tool_catalog.announced_at <= excluded.announced_at
            """,
            cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, CatalogTool>> FindAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        if (names.Count == 0)
        {
            return new Dictionary<string, CatalogTool>(StringComparer.Ordinal);
        }

        var wanted = names.Distinct(StringComparer.Ordinal).ToList();
        return await db.CatalogTools.AsNoTracking()
            .Where(t => wanted.Contains(t.Name))
            .ToDictionaryAsync(t => t.Name, t => new CatalogTool(t.Name, t.SideEffect, t.Compensable), StringComparer.Ordinal, cancellationToken);
    }
}

/// <summary>The catalog entries one message needs, loaded before the (synchronous) engine runs.</summary>
internal sealed class ToolCatalogSnapshot(IReadOnlyDictionary<string, CatalogTool> tools)
{
    public static ToolCatalogSnapshot Empty { get; } = new(new Dictionary<string, CatalogTool>(StringComparer.Ordinal));

    public CatalogTool? Find(string? name) => name is not null && tools.TryGetValue(name, out var tool) ? tool : null;
}
