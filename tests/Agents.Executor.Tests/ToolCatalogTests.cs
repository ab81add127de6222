using Agents.Contracts;
using Agents.Executor.Data;
using Agents.Executor.StateMachines;
using Agents.Testing;
using Microsoft.EntityFrameworkCore;

namespace Agents.Executor.Tests;

/// <summary>The executor's tool catalog in PostgreSQL (table <c>tool_catalog</c>), shared by replicas and restarts.</summary>
[Trait("Category", "Infrastructure")]
public sealed class ToolCatalogTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Announced = new(2026, 1, 1, 9, 0, 0, TimeSpan.Zero);
    private TestDatabase? _database;

    public async Task InitializeAsync()
    {
        _database = await TestInfrastructure.CreateDatabaseAsync("excatalog");
        await using var db = CreateDb();
        await db.Database.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [Fact]
    public async Task Announcements_are_stored_and_seen_by_another_context_and_older_ones_change_nothing()
    {
        await using (var db = CreateDb())
        {
            var catalog = new EfToolCatalog(db, TimeProvider.System);
            await catalog.UpsertAsync(Announce("tickets.create", SideEffectClass.Mutating, compensable: true, Announced), CancellationToken.None);
            await catalog.UpsertAsync(Announce("crm.lookup-customer", SideEffectClass.ReadOnly, compensable: false, Announced), CancellationToken.None);

            // A newer announcement wins; a late, older one is ignored.
            await catalog.UpsertAsync(Announce("tickets.create", SideEffectClass.Mutating, compensable: false, Announced.AddMinutes(1)), CancellationToken.None);
            await catalog.UpsertAsync(Announce("tickets.create", SideEffectClass.ReadOnly, compensable: true, Announced.AddSeconds(30)), CancellationToken.None);
        }

        // Another context (another replica, or the executor after a restart) sees the same catalog.
        await using (var db = CreateDb())
        {
            var found = await new EfToolCatalog(db, TimeProvider.System).FindAsync(["tickets.create", "crm.lookup-customer", "web.fetch"], CancellationToken.None);
            Assert.Equal(2, found.Count);
            Assert.Equal(new CatalogTool("tickets.create", SideEffectClass.Mutating, false), found["tickets.create"]);
            Assert.Equal(new CatalogTool("crm.lookup-customer", SideEffectClass.ReadOnly, false), found["crm.lookup-customer"]);
            Assert.False(found.ContainsKey("web.fetch"));
        }
    }

    private static ToolAnnounced Announce(string name, SideEffectClass sideEffect, bool compensable, DateTimeOffset at) => new(
        new ToolDescriptor(name, name, "{}", "{}", sideEffect, RiskTier.Low, "tools", compensable, false, 10, "1"), "test", at);

    private ExecutorDbContext CreateDb() => new(new DbContextOptionsBuilder<ExecutorDbContext>().UseNpgsql(_database!.ConnectionString).Options);
}
