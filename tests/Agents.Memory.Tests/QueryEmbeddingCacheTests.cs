using Agents.Memory.Embeddings;
using Agents.Memory.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Agents.Memory.Tests;

[Trait("Category", "Unit")]
public sealed class QueryEmbeddingCacheTests
{
    [Fact]
    public async Task The_cache_keeps_the_most_recently_used_queries_up_to_its_size_and_embeds_only_misses()
    {
        var model = new CountingEmbeddingGenerator(SharedEmbeddings.Generator);
        var options = new MemoryOptions();
        options.Recall.QueryCacheSize = 2;
        var cache = new QueryEmbeddingCache(model, Options.Create(options));

        var (a, cachedA) = await cache.EmbedAsync("open tickets of ACME", CancellationToken.None);
        await cache.EmbedAsync("backup schedule", CancellationToken.None);
        var (againA, cachedAgainA) = await cache.EmbedAsync(" open  tickets of ACME ", CancellationToken.None); // a is now the most recent
        await cache.EmbedAsync("VPN address", CancellationToken.None); // evicts "backup schedule"
        var (_, cachedBackup) = await cache.EmbedAsync("backup schedule", CancellationToken.None);

        Assert.False(cachedA);
        Assert.True(cachedAgainA);
        Assert.Same(a, againA);
        Assert.False(cachedBackup);
        Assert.Equal(["open tickets of ACME", "backup schedule", "VPN address", "backup schedule"], model.Batches.Select(b => Assert.Single(b)));
        Assert.Equal(2, cache.Count);
        Assert.Equal(1, cache.Hits);
        Assert.Equal(4, cache.Misses);
    }

    [Fact]
    public async Task A_cache_of_size_zero_embeds_every_query()
    {
        var model = new CountingEmbeddingGenerator(SharedEmbeddings.Generator);
        var options = new MemoryOptions();
        options.Recall.QueryCacheSize = 0;
        var cache = new QueryEmbeddingCache(model, Options.Create(options));

        await cache.EmbedAsync("backup schedule", CancellationToken.None);
        var (_, cached) = await cache.EmbedAsync("backup schedule", CancellationToken.None);

        Assert.False(cached);
        Assert.Equal(2, model.Calls);
        Assert.Equal(0, cache.Count);
    }

    [Theory]
    [InlineData("  What is\tthe  VPN\naddress? ", "What is the VPN address?")]
    [InlineData("Case Is Kept", "Case Is Kept")]
    [InlineData("plain", "plain")]
    public void Normalizing_trims_and_collapses_white_space(string query, string expected) =>
        Assert.Equal(expected, QueryEmbeddingCache.Normalize(query));
}
