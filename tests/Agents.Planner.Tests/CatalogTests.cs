using Agents.Contracts;
using Agents.Testing;
using Microsoft.EntityFrameworkCore;

namespace Agents.Planner.Tests;

[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class CatalogTests(PlannerFixture fixture)
{
    [Fact]
    public async Task Catalog_is_filled_from_ToolAnnounced_and_ignores_stale_announcements()
    {
        await using (var db = fixture.CreateDbContext())
        {
            var tools = await db.CatalogTools.OrderBy(t => t.Name).ToListAsync();
            Assert.Equal(["crm.lookup-customer", "tickets.create", "web.fetch"], tools.Select(t => t.Name));
            Assert.Equal("Mutating", tools[1].SideEffect);
            Assert.Equal(SampleTools.Ticket.InputSchema, tools[1].InputSchema);
        }

        var name = "test.echo-" + Guid.NewGuid().ToString("N")[..6];
        var now = DateTimeOffset.UtcNow;
        var descriptor = SampleTools.Fetch with { Name = name, Description = "new" };
        await fixture.Bus.Publish(new ToolAnnounced(descriptor, "a", now));
        await Poll.UntilAsync(async () =>
        {
            await using var db = fixture.CreateDbContext();
            return await db.CatalogTools.AnyAsync(t => t.Name == name);
        });

        await fixture.Bus.Publish(new ToolAnnounced(descriptor with { Description = "old" }, "b", now.AddMinutes(-5)));
        await fixture.Bus.Publish(new ToolAnnounced(descriptor with { Description = "newer" }, "c", now.AddMinutes(1)));
        await Poll.UntilAsync(async () =>
        {
            await using var db = fixture.CreateDbContext();
            return await db.CatalogTools.AnyAsync(t => t.Name == name && t.Description == "newer");
        });

        await using (var db = fixture.CreateDbContext())
        {
            var stored = await db.CatalogTools.SingleAsync(t => t.Name == name);
            Assert.Equal("c", stored.Instance);
        }
    }
}
