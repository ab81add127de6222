using System.Numerics.Tensors;
using Agents.Memory.Memories;
using Agents.Memory.VectorSearch;

namespace Agents.Memory.Tests;

[Trait("Category", "Unit")]
public sealed class ScopeIndexTests
{
    private const int Dimensions = 32;

    [Fact]
    public void Search_returns_the_exact_top_k_of_a_brute_force_scan_best_first()
    {
        var random = new Random(7);
        var index = new ScopeIndex(Dimensions, 1);
        var records = Enumerable.Range(0, 2000).Select(_ => new VectorRecord(Guid.NewGuid(), RandomUnit(random), DateTimeOffset.UnixEpoch, null)).ToList();
        records.ForEach(index.Load);
        var query = RandomUnit(random);

        var hits = index.Search(query, 10, -1f, DateTimeOffset.UtcNow.UtcTicks);

        var expected = records.OrderByDescending(r => TensorPrimitives.Dot(r.Vector, query)).Take(10).Select(r => r.MemoryId);
        Assert.Equal(expected, hits.Select(h => h.MemoryId));
        Assert.True(hits.Zip(hits.Skip(1)).All(p => p.First.Similarity >= p.Second.Similarity));
    }

    [Fact]
    public void Expired_and_below_threshold_vectors_are_skipped()
    {
        var index = new ScopeIndex(2, 1);
        var now = DateTimeOffset.UtcNow;
        var live = new VectorRecord(Guid.NewGuid(), [1f, 0f], now, now.AddDays(1));
        var expired = new VectorRecord(Guid.NewGuid(), [1f, 0f], now, now.AddSeconds(-1));
        var orthogonal = new VectorRecord(Guid.NewGuid(), [0f, 1f], now, null);
        index.Load(live);
        index.Load(expired);
        index.Load(orthogonal);

        var hits = index.Search([1f, 0f], 10, 0.5f, now.UtcTicks);

        Assert.Equal(live.MemoryId, Assert.Single(hits).MemoryId);
    }

    [Fact]
    public void Changes_apply_in_place_only_when_the_index_is_one_version_behind()
    {
        var index = new ScopeIndex(2, 5);
        var a = new VectorRecord(Guid.NewGuid(), [1f, 0f], DateTimeOffset.UnixEpoch, null);
        var b = new VectorRecord(Guid.NewGuid(), [0f, 1f], DateTimeOffset.UnixEpoch, null);
        var c = new VectorRecord(Guid.NewGuid(), [0.6f, 0.8f], DateTimeOffset.UnixEpoch, null);

        Assert.True(index.TryApply(6, i => i.Upsert(a)));
        Assert.True(index.TryApply(7, i => i.Upsert(b)));
        Assert.True(index.TryApply(8, i => i.Upsert(c)));
        Assert.True(index.TryApply(9, i => i.Remove(a.MemoryId))); // swap-remove moves c into a's slot
        Assert.False(index.TryApply(11, i => i.Upsert(a)));        // version 10 was missed: reload needed
        Assert.True(index.TryApply(8, _ => throw new InvalidOperationException("already included")));

        Assert.Equal(9, index.Version);
        Assert.Equal(2, index.Count);
        Assert.False(index.Contains(a.MemoryId));
        Assert.Equal(c.MemoryId, index.Search([0.6f, 0.8f], 1, -1f, 0).Single().MemoryId);
        Assert.Equal(b.MemoryId, index.Search([0f, 1f], 1, -1f, 0).Single().MemoryId);
    }

    [Fact]
    public void Score_follows_the_documented_recency_formula()
    {
        var settings = new RecallSettings { RecencyWeight = 0.2, RecencyHalfLife = TimeSpan.FromDays(30) };

        Assert.Equal(0.9, MemoryStore.Score(0.9, TimeSpan.Zero, settings), 9);
        Assert.Equal(0.9 * 0.9, MemoryStore.Score(0.9, TimeSpan.FromDays(30), settings), 9);
        Assert.Equal(0.9 * 0.8, MemoryStore.Score(0.9, TimeSpan.FromDays(3000), settings), 6);
        Assert.Equal(0.9, MemoryStore.Score(0.9, TimeSpan.FromDays(-1), settings), 9);
    }

    private static float[] RandomUnit(Random random)
    {
        var vector = new float[Dimensions];
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] = (float)((random.NextDouble() * 2) - 1);
        }

        TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), vector);
        return vector;
    }
}

[Trait("Category", "Unit")]
public sealed class Int8DotTests
{
    [Fact]
    public void The_simd_dot_product_equals_the_scalar_one_and_quantization_error_is_small()
    {
        var random = new Random(11);
        var worst = 0.0;
        for (var n = 0; n < 200; n++)
        {
            var a = Unit(random, 384);
            var b = Unit(random, 384);
            var stored = new byte[384];
            var scale = Int8Dot.QuantizeStored(a, stored);
            var query = new Int8Dot.Query(b);

            var fast = Int8Dot.Dot(stored, query);

            Assert.Equal(Int8Dot.Scalar(stored, query), fast);
            worst = Math.Max(worst, Math.Abs((fast * scale * query.Scale) - TensorPrimitives.Dot(a, b)));
        }

        Assert.True(worst < 0.01, $"largest quantization error {worst:F4}");
    }

    private static float[] Unit(Random random, int dimensions)
    {
        var vector = new float[dimensions];
        for (var i = 0; i < dimensions; i++)
        {
            vector[i] = (float)((random.NextDouble() * 2) - 1);
        }

        TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), vector);
        return vector;
    }
}
