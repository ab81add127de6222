using System.Text.Json;
using Agents.Planner.Data;
using Agents.Planner.Planning;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Agents.Planner.Templates;

/// <summary>Reads and writes versioned workflow templates.</summary>
internal sealed class TemplateStore(PlannerDbContext db, TimeProvider time)
{
    public async Task<IReadOnlyList<TemplateView>> ListLatestAsync(CancellationToken cancellationToken)
    {
        var records = await db.Templates.AsNoTracking()
            .Where(t => t.Version == db.Templates.Where(o => o.Name == t.Name).Max(o => o.Version))
            .OrderBy(t => t.Name)
            .ToListAsync(cancellationToken);
        return records.Select(r => ToView(r, includeSteps: false)).ToList();
    }

    public async Task<TemplateView?> GetLatestAsync(string name, CancellationToken cancellationToken)
    {
        var record = await db.Templates.AsNoTracking()
            .Where(t => t.Name == name)
            .OrderByDescending(t => t.Version)
            .FirstOrDefaultAsync(cancellationToken);
        return record is null ? null : ToView(record, includeSteps: true);
    }

    /// <summary>Stores <paramref name="definition"/> as the next version; null when another version was stored at the same time.</summary>
    public async Task<TemplateView?> SaveAsync(string name, TemplateDefinition definition, string author, CancellationToken cancellationToken)
    {
        var latest = await db.Templates.Where(t => t.Name == name).MaxAsync(t => (int?)t.Version, cancellationToken) ?? 0;
        var record = ToRecord(name, latest + 1, definition, author);
        db.Templates.Add(record);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            db.ChangeTracker.Clear();
            return null;
        }

        return ToView(record, includeSteps: true);
    }

    /// <summary>Adds version 1 of each built-in template whose name has no version yet.</summary>
    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        foreach (var (name, definition) in BuiltInTemplates.All)
        {
            if (!await db.Templates.AnyAsync(t => t.Name == name, cancellationToken))
            {
                db.Templates.Add(ToRecord(name, 1, definition, BuiltInTemplates.SeedAuthor));
            }
        }

        await db.SaveChangesAsync(cancellationToken);
    }

    private WorkflowTemplateRecord ToRecord(string name, int version, TemplateDefinition definition, string author) => new()
    {
        Name = name,
        Version = version,
        Description = definition.Description ?? string.Empty,
        ParametersJson = JsonSerializer.Serialize(definition.Parameters ?? [], PlannerJson.Options),
        StepsJson = JsonSerializer.Serialize(definition.Steps ?? [], PlannerJson.Options),
        CreatedBy = author,
        CreatedAt = time.GetUtcNow(),
    };

    private static TemplateView ToView(WorkflowTemplateRecord record, bool includeSteps) => new(
        record.Name,
        record.Version,
        record.Description,
        JsonSerializer.Deserialize<List<TemplateParameter>>(record.ParametersJson, PlannerJson.Options) ?? [],
        includeSteps ? JsonSerializer.Deserialize<List<StepDocument>>(record.StepsJson, PlannerJson.Options) ?? [] : null,
        record.CreatedBy,
        record.CreatedAt);
}
