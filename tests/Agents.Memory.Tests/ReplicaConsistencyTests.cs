using Agents.Contracts;
using Agents.Memory.Api;
using Agents.Memory.Memories;
using Agents.Memory.Tests.Infrastructure;

namespace Agents.Memory.Tests;

/// <summary>Two replicas on one database: each one's in-memory index follows the other's writes and deletes.</summary>
[Collection(MemoryHostCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class ReplicaConsistencyTests(MemoryHost host)
{
    [Fact]
    public async Task A_replica_with_a_cached_index_sees_writes_and_forgets_made_through_another()
    {
        var principal = MemoryHost.NewPrincipal();
        var replicaB = host.StartReplica();
        using var a = host.ClientFor(principal);
        using var b = host.ClientFor(principal, replicaB);
        var first = await (await a.PostJsonAsync("/api/memories", new StoreMemoryRequest("The incident channel is #ops-incidents.", "user", TrustLevel.Trusted, null, null, null, null))).ReadAsync<MemoryView>();
        var cachedOnB = await (await b.PostJsonAsync("/api/memories/recall", new RecallRequest("Which channel is used for incidents?", 5, null, null))).ReadAsync<RecallResponse>();
        Assert.Single(cachedOnB.Hits);

        var second = await (await a.PostJsonAsync("/api/memories", new StoreMemoryRequest("Incidents are also paged to the on-call phone.", "user", TrustLevel.Trusted, null, null, null, null))).ReadAsync<MemoryView>();
        var afterWrite = await (await b.PostJsonAsync("/api/memories/recall", new RecallRequest("Which channel is used for incidents?", 5, null, null))).ReadAsync<RecallResponse>();
        (await a.DeleteAsync(new Uri($"/api/memories/{first.Id}", UriKind.Relative))).EnsureSuccessStatusCode();
        var afterForget = await (await b.PostJsonAsync("/api/memories/recall", new RecallRequest("Which channel is used for incidents?", 5, null, null))).ReadAsync<RecallResponse>();

        Assert.Equal(new[] { first.Id, second.Id }.Order(), afterWrite.Hits.Select(h => h.Memory.Id).Order());
        Assert.Equal(second.Id, Assert.Single(afterForget.Hits).Memory.Id);
    }
}
