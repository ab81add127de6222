using System.Net;
using Agents.Contracts;
using Agents.Memory.Api;
using Agents.Memory.Lifecycle;
using Agents.Memory.Memories;
using Agents.Memory.Tests.Infrastructure;
using Agents.Memory.VectorSearch;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Memory.Tests;

/// <summary>TTL expiry, forgetting (by id and by user, vectors included) and stale sources.</summary>
[Collection(MemoryHostCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class LifecycleTests(MemoryHost host)
{
    private PostgresVectorStore Index => host.Services.GetRequiredService<PostgresVectorStore>();

    [Fact]
    public async Task Memories_past_their_ttl_are_not_recalled_and_cleanup_deletes_them_with_their_vectors()
    {
        var principal = MemoryHost.NewPrincipal();
        var scope = new MemoryScope(principal.TenantId, principal.UserId);
        using var client = host.ClientFor(principal);
        var fact = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("The build server's hostname is ci-01.", "user", TrustLevel.Trusted, null, null, null, null))).ReadAsync<MemoryView>();
        await client.PostJsonAsync("/api/memories/sessions/ttl-1/messages", new AppendMessageRequest("user", "short-lived message"));
        var before = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("What is the build server called?", 5, null, null))).ReadAsync<RecallResponse>();
        Assert.Single(before.Hits);
        Assert.True(Index.IsCached(scope, fact.Id));

        // Semantic TTL is 365 days in the test host, short-term 1 day.
        host.Time.Advance(TimeSpan.FromDays(366));

        var after = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("What is the build server called?", 5, null, null))).ReadAsync<RecallResponse>();
        using var get = await client.GetAsync(new Uri($"/api/memories/{fact.Id}", UriKind.Relative));
        using var session = await client.GetAsync(new Uri("/api/memories/sessions/ttl-1", UriKind.Relative));
        Assert.Empty(after.Hits);
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, session.StatusCode);

        await host.Services.GetRequiredService<MemoryCleanupService>().RunOnceAsync(CancellationToken.None);

        Assert.Equal(0, await host.WithDbAsync(db => db.Memories.CountAsync(m => m.TenantId == principal.TenantId)));
        Assert.Equal(0, await host.WithDbAsync(db => db.ShortTermMessages.CountAsync(m => m.TenantId == principal.TenantId)));
        Assert.False(Index.IsCached(scope, fact.Id));
    }

    [Fact]
    public async Task Forget_by_id_removes_the_memory_and_its_vector()
    {
        var principal = MemoryHost.NewPrincipal();
        var scope = new MemoryScope(principal.TenantId, principal.UserId);
        using var client = host.ClientFor(principal);
        var keep = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("The staging database is called stg-db-2.", "user", TrustLevel.Trusted, null, null, null, null))).ReadAsync<MemoryView>();
        var forget = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("The staging database password rotates monthly.", "user", TrustLevel.Trusted, null, null, null, null))).ReadAsync<MemoryView>();
        var before = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("staging database", 5, null, null))).ReadAsync<RecallResponse>();
        Assert.Equal(2, before.Hits.Count);

        using var delete = await client.DeleteAsync(new Uri($"/api/memories/{forget.Id}", UriKind.Relative));
        using var again = await client.DeleteAsync(new Uri($"/api/memories/{forget.Id}", UriKind.Relative));
        var after = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("staging database", 5, null, null))).ReadAsync<RecallResponse>();

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        await again.ProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(keep.Id, Assert.Single(after.Hits).Memory.Id);
        Assert.False(Index.IsCached(scope, forget.Id));
        Assert.True(Index.IsCached(scope, keep.Id));
        Assert.Equal(0, await host.WithDbAsync(db => db.Memories.CountAsync(m => m.TenantId == principal.TenantId && m.Id == forget.Id)));
    }

    [Fact]
    public async Task Forget_by_user_erases_all_memories_vectors_and_sessions_of_that_user_only()
    {
        var principal = MemoryHost.NewPrincipal();
        var colleague = MemoryHost.NewPrincipal(principal.TenantId);
        var scope = new MemoryScope(principal.TenantId, principal.UserId);
        using var client = host.ClientFor(principal);
        using var colleagueClient = host.ClientFor(colleague);
        var fact = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("My home office is in Lisbon.", "user", TrustLevel.Trusted, null, null, null, null))).ReadAsync<MemoryView>();
        await client.PostJsonAsync("/api/memories/sessions/s-1/messages", new AppendMessageRequest("user", "hello"));
        await colleagueClient.PostJsonAsync("/api/memories", new StoreMemoryRequest("My home office is in Porto.", "user", TrustLevel.Trusted, null, null, null, null));
        await client.PostJsonAsync("/api/memories/recall", new RecallRequest("Where is my home office?", 5, null, null));
        Assert.True(Index.IsCached(scope, fact.Id));

        using var forbidden = await colleagueClient.DeleteAsync(new Uri($"/api/memories/users/{principal.UserId}", UriKind.Relative));
        var erased = await (await client.DeleteAsync(new Uri($"/api/memories/users/{principal.UserId}", UriKind.Relative))).ReadAsync<ForgetUserResponse>();
        var after = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("Where is my home office?", 5, null, null))).ReadAsync<RecallResponse>();
        var colleagueAfter = await (await colleagueClient.PostJsonAsync("/api/memories/recall", new RecallRequest("Where is my home office?", 5, null, null))).ReadAsync<RecallResponse>();

        await forbidden.ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(2, erased.Deleted);
        Assert.Empty(after.Hits);
        Assert.False(Index.IsCached(scope, fact.Id));
        Assert.Equal(0, await host.WithDbAsync(db => db.Memories.CountAsync(m => m.TenantId == principal.TenantId && m.UserId == principal.UserId)));
        Assert.Equal(0, await host.WithDbAsync(db => db.ShortTermMessages.CountAsync(m => m.TenantId == principal.TenantId && m.UserId == principal.UserId)));
        Assert.Contains("Porto", Assert.Single(colleagueAfter.Hits).Memory.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tenant_admin_can_erase_a_user_of_the_same_tenant()
    {
        var principal = MemoryHost.NewPrincipal();
        var admin = MemoryHost.NewPrincipal(principal.TenantId, "admin");
        using var client = host.ClientFor(principal);
        using var adminClient = host.ClientFor(admin);
        await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("My badge number is 7781.", "user", TrustLevel.Trusted, null, null, null, null));

        var erased = await (await adminClient.DeleteAsync(new Uri($"/api/memories/users/{principal.UserId}", UriKind.Relative))).ReadAsync<ForgetUserResponse>();

        Assert.Equal(1, erased.Deleted);
        Assert.Empty(await (await client.GetAsync(new Uri("/api/memories", UriKind.Relative))).ReadAsync<List<MemoryView>>());
    }

    [Fact]
    public async Task Memories_from_a_stale_source_are_excluded_from_recall_but_stay_listed_as_stale()
    {
        var principal = MemoryHost.NewPrincipal();
        var colleague = MemoryHost.NewPrincipal(principal.TenantId);
        var admin = MemoryHost.NewPrincipal(principal.TenantId, "admin");
        using var client = host.ClientFor(principal);
        using var colleagueClient = host.ClientFor(colleague);
        const string source = "http://kb.local/articles/refund-policy";
        var stale = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("Refunds are accepted within 14 days of purchase.", source, TrustLevel.Untrusted, null, null, null, null))).ReadAsync<MemoryView>();
        var fresh = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("Refunds need the original receipt.", "http://kb.local/articles/receipts", TrustLevel.Untrusted, null, null, null, null))).ReadAsync<MemoryView>();
        await colleagueClient.PostJsonAsync("/api/memories", new StoreMemoryRequest("Refunds are accepted within 14 days of purchase.", source, TrustLevel.Untrusted, null, null, null, null));
        await client.PostJsonAsync("/api/memories/recall", new RecallRequest("refund rules", 5, null, null));

        var own = await (await client.PostJsonAsync("/api/memories/sources/stale", new MarkSourceStaleRequest(source))).ReadAsync<MarkSourceStaleResponse>();
        var recall = await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest("refund rules", 5, null, null))).ReadAsync<RecallResponse>();
        var listed = await (await client.GetAsync(new Uri($"/api/memories/{stale.Id}", UriKind.Relative))).ReadAsync<MemoryView>();
        var colleagueBefore = await (await colleagueClient.PostJsonAsync("/api/memories/recall", new RecallRequest("refund rules", 5, null, null))).ReadAsync<RecallResponse>();

        Assert.Equal(1, own.MarkedStale);
        Assert.Equal("user", own.Scope);
        Assert.Equal(fresh.Id, Assert.Single(recall.Hits).Memory.Id);
        Assert.True(listed.Stale);
        Assert.Single(colleagueBefore.Hits); // a plain user invalidates only their own memories

        var tenantWide = await (await host.ClientFor(admin).PostJsonAsync("/api/memories/sources/stale", new MarkSourceStaleRequest(source))).ReadAsync<MarkSourceStaleResponse>();
        var colleagueAfter = await (await colleagueClient.PostJsonAsync("/api/memories/recall", new RecallRequest("refund rules", 5, null, null))).ReadAsync<RecallResponse>();

        Assert.Equal(1, tenantWide.MarkedStale);
        Assert.Equal("tenant", tenantWide.Scope);
        Assert.Empty(colleagueAfter.Hits);
    }
}
