using System.Text.Json;
using Agents.Planner.Data;
using Agents.Planner.Planning;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Agents.Planner.Templates;

/// <summary>What became of a template write or retirement.</summary>
internal enum TemplateChange
{
    Done,
    NotFound,
    BuiltInReadOnly,
    Concurrent,
}

/// <summary>
/// Reads and writes versioned workflow templates, always for one tenant: a tenant sees, changes and runs its own
/// templates and the built-in ones (read-only); another tenant's templates do not exist for it.
/// </summary>
internal sealed class TemplateStore(PlannerDbContext db, TimeProvider time)
{
    public async Task<IReadOnlyList<TemplateView>> ListLatestAsync(string tenant, CancellationToken cancellationToken)
    {
        var records = await db.Templates.AsNoTracking()
            .Where(t => t.TenantId == tenant || t.TenantId == WorkflowTemplateRecord.BuiltIn)
            .Where(t => t.Version == db.Templates.Where(o => o.TenantId == t.TenantId && o.Name == t.Name).Max(o => o.Version))
            .ToListAsync(cancellationToken);

        // A tenant's own template of a built-in's name (only from before templates had tenants) comes first.
        return records
            .Where(r => !r.Retired)
            .GroupBy(r => r.Name, StringComparer.Ordinal)
            .Select(g => g.OrderBy(r => r.TenantId == WorkflowTemplateRecord.BuiltIn).First())
            .OrderBy(r => r.Name, StringComparer.Ordinal)
            .Select(r => ToView(r, includeSteps: false))
            .ToList();
    }

    public async Task<TemplateView?> GetLatestAsync(string tenant, string name, CancellationToken cancellationToken) =>
        await FindLatestAsync(db, tenant, name, cancellationToken) is { } record ? ToView(record, includeSteps: true) : null;

    /// <summary>The version of <paramref name="name"/> that <paramref name="tenant"/> plans with: its own newest, else the built-in's; null when neither (or retired).</summary>
    public static async Task<WorkflowTemplateRecord?> FindLatestAsync(PlannerDbContext db, string tenant, string name, CancellationToken cancellationToken)
    {
        var candidates = await db.Templates.AsNoTracking()
            .Where(t => t.Name == name && (t.TenantId == tenant || t.TenantId == WorkflowTemplateRecord.BuiltIn))
            .Where(t => t.Version == db.Templates.Where(o => o.TenantId == t.TenantId && o.Name == t.Name).Max(o => o.Version))
            .ToListAsync(cancellationToken);
        return candidates.Where(r => !r.Retired).OrderBy(r => r.TenantId == WorkflowTemplateRecord.BuiltIn).FirstOrDefault();
    }

    /// <summary>Stores <paramref name="definition"/> as the tenant's next version of <paramref name="name"/>.</summary>
    public async Task<(TemplateChange Change, TemplateView? Saved)> SaveAsync(string tenant, string name, TemplateDefinition definition, string author, CancellationToken cancellationToken)
    {
        var latest = await db.Templates.Where(t => t.TenantId == tenant && t.Name == name).MaxAsync(t => (int?)t.Version, cancellationToken);
        if (latest is null && await IsBuiltInAsync(name, cancellationToken))
        {
            return (TemplateChange.BuiltInReadOnly, null);
        }

        var record = ToRecord(tenant, name, (latest ?? 0) + 1, definition, author);
        return await AddAsync(record, cancellationToken) ? (TemplateChange.Done, ToView(record, includeSteps: true)) : (TemplateChange.Concurrent, null);
    }

    /// <summary>Retires the tenant's template: a new version marked retired, so that its history stays.</summary>
    public async Task<TemplateChange> RetireAsync(string tenant, string name, string author, CancellationToken cancellationToken)
    {
        var latest = await db.Templates.AsNoTracking()
            .Where(t => t.TenantId == tenant && t.Name == name)
            .OrderByDescending(t => t.Version)
            .FirstOrDefaultAsync(cancellationToken);
        if (latest is null || latest.Retired)
        {
            return await IsBuiltInAsync(name, cancellationToken) ? TemplateChange.BuiltInReadOnly : TemplateChange.NotFound;
        }

        var retired = new WorkflowTemplateRecord
        {
            TenantId = tenant,
            Name = name,
            Version = latest.Version + 1,
            Description = latest.Description,
            ParametersJson = latest.ParametersJson,
            StepsJson = latest.StepsJson,
            CreatedBy = author,
            CreatedAt = time.GetUtcNow(),
            Retired = true,
        };
        return await AddAsync(retired, cancellationToken) ? TemplateChange.Done : TemplateChange.Concurrent;
    }

    /// <summary>Adds version 1 of each built-in template whose name has no built-in version yet.</summary>
    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        foreach (var (name, definition) in BuiltInTemplates.All)
        {
            if (!await IsBuiltInAsync(name, cancellationToken))
            {
                db.Templates.Add(ToRecord(WorkflowTemplateRecord.BuiltIn, name, 1, definition, BuiltInTemplates.SeedAuthor));
            }
        }

        await db.SaveChangesAsync(cancellationToken);
    }

    private Task<bool> IsBuiltInAsync(string name, CancellationToken cancellationToken) =>
        db.Templates.AnyAsync(t => t.TenantId == WorkflowTemplateRecord.BuiltIn && t.Name == name, cancellationToken);

    private async Task<bool> AddAsync(WorkflowTemplateRecord record, CancellationToken cancellationToken)
    {
        db.Templates.Add(record);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            db.ChangeTracker.Clear();
            return false;
        }
    }

    private WorkflowTemplateRecord ToRecord(string tenant, string name, int version, TemplateDefinition definition, string author) => new()
    {
        TenantId = tenant,
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
        record.CreatedAt,
        record.TenantId == WorkflowTemplateRecord.BuiltIn);
}
