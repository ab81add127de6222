using Agents.Memory.Tests.Infrastructure;
using Agents.Memory.VectorSearch;
using Agents.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Qdrant.Client.Grpc;

namespace Agents.Memory.Tests;

/// <summary>
/// The Qdrant adapter, offline: no Qdrant server exists on this machine, so these tests cover
/// the scope filter, point ids, payload, hit mapping and configuration — not a live collection.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class QdrantAdapterTests
{
    private static readonly MemoryScope Scope = new("tenant-a", "user-1");

    [Fact]
    public void Every_scope_filter_requires_both_tenant_and_user()
    {
        var filter = QdrantVectorStore.ScopeFilter(Scope, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

        Assert.Empty(filter.Should);
        Assert.Empty(filter.MustNot);
        var keys = filter.Must.Where(c => c.Field?.Match is not null).ToDictionary(c => c.Field.Key, c => c.Field.Match.Keyword);
        Assert.Equal("tenant-a", keys[QdrantVectorStore.TenantKey]);
        Assert.Equal("user-1", keys[QdrantVectorStore.UserKey]);
        var expiry = Assert.Single(filter.Must, c => c.Field?.Key == QdrantVectorStore.ExpiresAtKey);
        Assert.Equal(1_700_000_000, expiry.Field.Range.Gt);
    }

    [Theory]
    [InlineData("", "user")]
    [InlineData("tenant", "")]
    public void A_scope_filter_without_tenant_or_user_cannot_be_built(string tenant, string user)
    {
        Assert.ThrowsAny<ArgumentException>(() => QdrantVectorStore.ScopeFilter(new MemoryScope(tenant, user)));
    }

    [Fact]
    public void Crafted_tenant_values_stay_exact_keyword_matches()
    {
        var crafted = new MemoryScope("tenant-a\" OR \"1\"=\"1", "*");

        var filter = QdrantVectorStore.ScopeFilter(crafted);

        Assert.Equal(2, filter.Must.Count);
        Assert.All(filter.Must, c => Assert.Equal(Match.MatchValueOneofCase.Keyword, c.Field.Match.MatchValueCase));
        Assert.Contains(filter.Must, c => c.Field.Match.Keyword == "tenant-a\" OR \"1\"=\"1");
        Assert.Contains(filter.Must, c => c.Field.Match.Keyword == "*");
    }

    [Fact]
    public void Point_ids_are_stable_per_scope_and_differ_across_tenants_and_users()
    {
        var memoryId = Guid.NewGuid();

        var id = QdrantVectorStore.PointId(Scope, memoryId);

        Assert.Equal(id, QdrantVectorStore.PointId(Scope, memoryId));
        Assert.NotEqual(id, QdrantVectorStore.PointId(Scope with { TenantId = "tenant-b" }, memoryId));
        Assert.NotEqual(id, QdrantVectorStore.PointId(Scope with { UserId = "user-2" }, memoryId));
        Assert.NotEqual(id, memoryId);

        // Length-prefixed parts: ("ab", "c") and ("a", "bc") never collide.
        Assert.NotEqual(QdrantVectorStore.PointId(new MemoryScope("ab", "c"), memoryId), QdrantVectorStore.PointId(new MemoryScope("a", "bc"), memoryId));
        Assert.Equal(8, id.Version);
    }

    [Fact]
    public void Points_carry_scope_payload_and_expiry()
    {
        var memoryId = Guid.NewGuid();
        var created = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

        var point = QdrantVectorStore.ToPoint(Scope, new VectorRecord(memoryId, [0.6f, 0.8f], created, null));
        var expiring = QdrantVectorStore.ToPoint(Scope, new VectorRecord(memoryId, [0.6f, 0.8f], created, created.AddDays(1)));

        Assert.Equal(QdrantVectorStore.PointId(Scope, memoryId).ToString("D"), point.Id.Uuid);
        Assert.Equal("tenant-a", point.Payload[QdrantVectorStore.TenantKey].StringValue);
        Assert.Equal("user-1", point.Payload[QdrantVectorStore.UserKey].StringValue);
        Assert.Equal(memoryId.ToString("D"), point.Payload[QdrantVectorStore.MemoryIdKey].StringValue);
        Assert.Equal(QdrantVectorStore.NeverExpires, point.Payload[QdrantVectorStore.ExpiresAtKey].IntegerValue);
        Assert.Equal(1_700_086_400, expiring.Payload[QdrantVectorStore.ExpiresAtKey].IntegerValue);
        Assert.Equal([0.6f, 0.8f], point.Vectors.Vector.Dense.Data);
    }

    [Fact]
    public void Hits_whose_payload_or_point_id_belong_to_another_scope_are_dropped()
    {
        var own = Guid.NewGuid();
        var foreign = Guid.NewGuid();
        var ownPoint = QdrantVectorStore.ToPoint(Scope, new VectorRecord(own, [1f], DateTimeOffset.UnixEpoch, null));
        var foreignPoint = QdrantVectorStore.ToPoint(Scope with { TenantId = "tenant-b" }, new VectorRecord(foreign, [1f], DateTimeOffset.UnixEpoch, null));
        var forgedPoint = QdrantVectorStore.ToPoint(Scope with { TenantId = "tenant-b" }, new VectorRecord(Guid.NewGuid(), [1f], DateTimeOffset.UnixEpoch, null));
        forgedPoint.Payload[QdrantVectorStore.TenantKey] = "tenant-a"; // payload claims our tenant, id says otherwise

        var hits = QdrantVectorStore.MapHits(Scope, [Scored(ownPoint, 0.9f), Scored(foreignPoint, 0.95f), Scored(forgedPoint, 0.99f)]);

        Assert.Equal(own, Assert.Single(hits).MemoryId);
        Assert.Equal(0.9f, hits[0].Similarity);
    }

    [Fact]
    public async Task Provider_Qdrant_selects_the_Qdrant_adapter_and_requires_an_endpoint()
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "Host=127.0.0.1;Database=unused;Username=agents;Password=agents",
            ["ConnectionStrings:RabbitMq"] = TestInfrastructure.RabbitMq,
            ["Identity:SigningKey"] = MemoryHost.SigningKey,
            ["Memory:VectorStore:Provider"] = "Qdrant",
            ["Memory:VectorStore:QdrantEndpoint"] = "http://127.0.0.1:6334",
            ["Memory:VectorStore:QdrantCollection"] = "memories-test",
        };
        await using var configured = new MemoryFactory(settings, _ => { });
        Assert.IsType<QdrantVectorStore>(configured.Services.GetRequiredService<IVectorStore>());

        settings.Remove("Memory:VectorStore:QdrantEndpoint");
        var error = await StartupFailure.OfAsync<OptionsValidationException, Program>(() => new MemoryFactory(settings, _ => { }));
        Assert.Contains("Memory:VectorStore:QdrantEndpoint", error.Message, StringComparison.Ordinal);
    }

    private static ScoredPoint Scored(PointStruct point, float score)
    {
        var scored = new ScoredPoint { Id = point.Id, Score = score };
        scored.Payload.Add(point.Payload);
        return scored;
    }
}
