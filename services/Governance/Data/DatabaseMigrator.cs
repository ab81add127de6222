using Agents.Governance.Policies;
using Agents.Messaging.Data;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Data;

/// <summary>The explicit <c>migrate</c> step: applies EF Core migrations and seeds the demo tenant's policy.</summary>
public static class DatabaseMigrator
{
    public static async Task MigrateAsync(string connectionString, TimeProvider time, CancellationToken cancellationToken = default)
    {
        var options = new DbContextOptionsBuilder<GovernanceDbContext>().UseNpgsql(connectionString).Options;
        await using var db = new GovernanceDbContext(options);
        await db.Database.ApplyMigrationsAsync(cancellationToken);
        await SeedDemoPolicyAsync(db, time, cancellationToken);
    }

    /// <summary>Version 1 of the demo tenant's policy, only when the tenant has none (an admin's later versions win).</summary>
    internal static async Task SeedDemoPolicyAsync(GovernanceDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        _ = PolicyValidator.Validate(PolicyDefaults.DemoPolicyJson, out var errors)
            ?? throw new InvalidOperationException("The seeded demo policy is invalid: " + string.Join("; ", errors.Select(e => e.Pointer + " " + e.Message)));
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"INSERT INTO policies (tenant_id, version, document, created_at, created_by) VALUES ({PolicyDefaults.DemoTenant}, 1, {PolicyDefaults.DemoPolicyJson}, {time.GetUtcNow()}, 'seed') ON CONFLICT DO NOTHING",
            cancellationToken);
    }
}
