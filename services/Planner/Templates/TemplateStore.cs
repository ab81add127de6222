using System.Buffers.Binary;
using System.Security.Cryptography;
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
    Invalid,
}

/// <summary>A tenant's rollout of one of its templates, as the API shows it.</summary>
internal sealed record TemplateRolloutView(string Name, int StableVersion, int CandidateVersion, int Percent, string UpdatedBy, DateTimeOffset UpdatedAt);

/// <summary>The body of <c>PUT /api/templates/{name}/rollout</c>; <see cref="StableVersion"/> defaults to the version serving now.</summary>
internal sealed record TemplateRolloutRequest(int CandidateVersion, int Percent, int? StableVersion = null);

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

    /// <summary>The side of a rollout that plans with the stable version.</summary>
    public const string Stable = "stable";

    /// <summary>The side of a rollout that plans with the candidate version.</summary>
    public const string Candidate = "candidate";

    /// <summary>
    /// The version of <paramref name="name"/> that plans task <paramref name="taskId"/> of <paramref name="tenant"/>:
    /// with a rollout of the tenant's template, the candidate for the rollout's share of tasks (by the task's id) and the
    /// stable version for the rest; otherwise the newest (as <see cref="FindLatestAsync"/>). Null when there is no such
    /// template or it is retired. A built-in template has no rollout and costs no second query. With
    /// <paramref name="pinned"/>, exactly that version (a replay of a task planned from it), outside any rollout.
    /// </summary>
    public static async Task<(WorkflowTemplateRecord Template, string? Rollout)?> FindForTaskAsync(PlannerDbContext db, string tenant, string name, Guid taskId, int? pinned, CancellationToken cancellationToken)
    {
        if (pinned is { } version)
        {
            return await FindVersionAsync(db, tenant, name, version, cancellationToken) is { } exact ? (exact, null) : null;
        }

        var latest = await FindLatestAsync(db, tenant, name, cancellationToken);
        if (latest is null || latest.TenantId == WorkflowTemplateRecord.BuiltIn)
        {
            return latest is null ? null : (latest, null);
        }

        var rollout = await db.TemplateRollouts.AsNoTracking().SingleOrDefaultAsync(r => r.TenantId == tenant && r.Name == name, cancellationToken);
        if (rollout is null)
        {
            return (latest, null);
        }

        var candidate = Bucket(taskId) < rollout.Percent;
        var serving = candidate ? rollout.CandidateVersion : rollout.StableVersion;
        var chosen = serving == latest.Version
            ? latest
            : await db.Templates.AsNoTracking().SingleOrDefaultAsync(t => t.TenantId == tenant && t.Name == name && t.Version == serving, cancellationToken);
        return chosen is null || chosen.Retired ? (latest, null) : (chosen, candidate ? Candidate : Stable);
    }

    /// <summary>Version <paramref name="version"/> of <paramref name="name"/> as the tenant may run it (its own, else the built-in's); null when not stored or retired.</summary>
    public static async Task<WorkflowTemplateRecord?> FindVersionAsync(PlannerDbContext db, string tenant, string name, int version, CancellationToken cancellationToken)
    {
        // A retired template runs in no version: the version that retired it is the newest.
        if (await FindLatestAsync(db, tenant, name, cancellationToken) is not { } latest)
        {
            return null;
        }

        return latest.Version == version
            ? latest
            : await db.Templates.AsNoTracking().SingleOrDefaultAsync(t => t.TenantId == latest.TenantId && t.Name == name && t.Version == version && !t.Retired, cancellationToken);
    }

    /// <summary>0–99, evenly spread over task ids and fixed for each (task ids are time-ordered, so their bytes are hashed first).</summary>
    public static int Bucket(Guid taskId)
    {
        Span<byte> id = stackalloc byte[16];
        taskId.TryWriteBytes(id);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(id, hash);
        return (int)(BinaryPrimitives.ReadUInt32LittleEndian(hash) % 100);
    }

    public async Task<TemplateRolloutView?> GetRolloutAsync(string tenant, string name, CancellationToken cancellationToken) =>
        await db.TemplateRollouts.AsNoTracking().SingleOrDefaultAsync(r => r.TenantId == tenant && r.Name == name, cancellationToken) is { } rollout
            ? ToView(rollout)
            : null;

    /// <summary>
    /// Sets (or changes) the rollout of the tenant's template <paramref name="name"/>. Both versions must be stored, not
    /// retired and different; the stable version defaults to the one serving now (the current rollout's stable version,
    /// else the newest version other than the candidate). The answer's <c>Problem</c> says what is wrong when it is
    /// <see cref="TemplateChange.Invalid"/>.
    /// </summary>
    public async Task<(TemplateChange Change, TemplateRolloutView? Saved, string? Problem)> SetRolloutAsync(string tenant, string name, TemplateRolloutRequest request, string author, CancellationToken cancellationToken)
    {
        var versions = await db.Templates.AsNoTracking()
            .Where(t => t.TenantId == tenant && t.Name == name)
            .OrderByDescending(t => t.Version)
            .Select(t => new { t.Version, t.Retired })
            .ToListAsync(cancellationToken);
        if (versions.Count == 0 || versions[0].Retired)
        {
            return (await IsBuiltInAsync(name, cancellationToken) ? TemplateChange.BuiltInReadOnly : TemplateChange.NotFound, null, null);
        }

        var rollout = await db.TemplateRollouts.SingleOrDefaultAsync(r => r.TenantId == tenant && r.Name == name, cancellationToken);
        // The version serving now: a rollout's stable one (its candidate once it has all the traffic), else the newest other.
        int? serving = rollout is null ? null : rollout.Percent == 100 ? rollout.CandidateVersion : rollout.StableVersion;
        var stable = request.StableVersion
            ?? (serving is { } now && now != request.CandidateVersion ? now : (int?)null)
            ?? versions.Where(v => !v.Retired && v.Version != request.CandidateVersion).Select(v => (int?)v.Version).FirstOrDefault();
        var stored = versions.Where(v => !v.Retired).Select(v => v.Version).ToHashSet();
        var problem = request switch
        {
            { Percent: < 0 or > 100 } => $"percent must be between 0 and 100 (was {request.Percent}).",
            _ when !stored.Contains(request.CandidateVersion) => $"Template '{name}' has no version {request.CandidateVersion} to roll out (stored: {string.Join(", ", stored.Order())}).",
            _ when stable is null => $"Template '{name}' has only version {request.CandidateVersion}; a rollout needs a second version to compare it with.",
            _ when !stored.Contains(stable.Value) => $"Template '{name}' has no version {stable} to keep as the stable version (stored: {string.Join(", ", stored.Order())}).",
            _ when stable == request.CandidateVersion => $"The stable and the candidate version are both {stable}; a rollout needs two different versions.",
            _ => null,
        };
        if (problem is not null)
        {
            return (TemplateChange.Invalid, null, problem);
        }

        if (rollout is null)
        {
            rollout = new TemplateRolloutRecord { TenantId = tenant, Name = name, UpdatedBy = author };
            db.TemplateRollouts.Add(rollout);
        }

        rollout.StableVersion = stable!.Value;
        rollout.CandidateVersion = request.CandidateVersion;
        rollout.Percent = request.Percent;
        rollout.UpdatedBy = author;
        rollout.UpdatedAt = time.GetUtcNow();
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            db.ChangeTracker.Clear();
            return (TemplateChange.Concurrent, null, null);
        }

        return (TemplateChange.Done, ToView(rollout), null);
    }

    /// <summary>Ends the rollout of the tenant's template: its newest version serves every new task again.</summary>
    public async Task<bool> EndRolloutAsync(string tenant, string name, CancellationToken cancellationToken) =>
        await db.TemplateRollouts.Where(r => r.TenantId == tenant && r.Name == name).ExecuteDeleteAsync(cancellationToken) > 0;

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

        // Its rollout goes with it: a template stored again under the name starts without one.
        db.TemplateRollouts.RemoveRange(await db.TemplateRollouts.Where(r => r.TenantId == tenant && r.Name == name).ToListAsync(cancellationToken));
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

    private static TemplateRolloutView ToView(TemplateRolloutRecord rollout) =>
        new(rollout.Name, rollout.StableVersion, rollout.CandidateVersion, rollout.Percent, rollout.UpdatedBy, rollout.UpdatedAt);

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
