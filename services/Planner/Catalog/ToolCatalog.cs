using Agents.Contracts;
using Agents.Planner.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Planner.Catalog;

/// <summary>The planner's copy of the tool registry, filled from <see cref="ToolAnnounced"/>.</summary>
internal sealed class ToolCatalog(PlannerDbContext db, TimeProvider time)
{
    public async Task<IReadOnlyDictionary<string, ToolSummary>> LoadAsync(CancellationToken cancellationToken)
    {
        var tools = await db.CatalogTools.AsNoTracking().OrderBy(t => t.Name).ToListAsync(cancellationToken);
        return tools.ToDictionary(
            t => t.Name,
            t => new ToolSummary(t.Name, t.Description, t.InputSchema, Enum.Parse<SideEffectClass>(t.SideEffect)),
            StringComparer.Ordinal);
    }

    /// <summary>Inserts or updates the tool; an announcement older than the stored one changes nothing.</summary>
    public async Task UpsertAsync(ToolAnnounced announced, CancellationToken cancellationToken)
    {
        var tool = announced.Tool;
        var receivedAt = time.GetUtcNow();
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"""
            INSERT INTO catalog_tools (name, description, input_schema, output_schema, side_effect, risk, version, instance, announced_at, received_at)
            VALUES ({tool.Name}, {tool.Description}, {tool.InputSchema}, {tool.OutputSchema}, {tool.SideEffect.ToString()}, {tool.Risk.ToString()},
                    {tool.Version}, {announced.Instance}, {announced.AnnouncedAt}, {receivedAt})
            ON CONFLICT (name) DO UPDATE SET
                description = excluded.description, input_schema = excluded.input_schema, output_schema = excluded.output_schema,
                side_effect = excluded.side_effect, risk = excluded.risk, version = excluded.version, instance = excluded.instance,
                announced_at = excluded.announced_at, received_at = excluded.received_at
            WHERE catalog_tools.announced_at <= excluded.announced_at
            """,
            cancellationToken);
    }
}
