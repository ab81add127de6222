using Agents.Memory.Benchmarks;
using Agents.Memory.Tests.Infrastructure;
using Agents.Testing;

namespace Agents.Memory.Tests;

/// <summary>The memory benchmark's smoke run, in-process: a change that breaks the benchmark fails here, not months later.</summary>
[Trait("Category", "Infrastructure")]
public sealed class BenchmarkSmokeTests
{
    [Fact]
    public async Task The_memory_benchmark_smoke_run_measures_recall_embedding_and_episodes()
    {
        await using var database = await TestInfrastructure.CreateDatabaseAsync("membench");
        var settings = MemoryBenchmarkSettings.Smoke;
        using var output = new StringWriter();

        var report = await MemoryBenchmark.RunAsync(database.ConnectionString, settings, output, new CountingEmbeddingGenerator(SharedEmbeddings.Generator));

        var recall = Assert.Single(report.Recall);
        Assert.Equal(settings.Sizes[0], recall.Size);
        Assert.True(recall.Recall.P99 > 0 && recall.SearchOnly.P99 > 0 && recall.CpuMillisecondsPerRecall > 0, output.ToString());
        Assert.True(report.Embedding.SinglePerSecond > 0 && report.Embedding.BatchedPerSecond > 0, output.ToString());
        var weights = report.Weights;
        Assert.True(weights.FloatCpuMilliseconds > 0 && weights.Int8CpuMilliseconds > 0, output.ToString());
        Assert.True(weights.MinCosine is >= 0.98 and <= 1.0 && weights.MeanCosine >= weights.MinCosine, output.ToString());
        Assert.InRange(weights.NearestInThree, weights.SameNearest, 1.0);

        // Every episode (and the warm-up one) was embedded by the background embedder, in full batches but the last.
        var episodes = report.Episodes;
        Assert.Equal(0, episodes.LeftPending);
        Assert.Equal((int)Math.Ceiling((settings.Episodes + 1) / (double)settings.BatchSize), episodes.Batches);
        Assert.True(episodes.InlinePerSecond > 0 && episodes.PendingStorePerSecond > 0 && episodes.BatchedEmbedPerSecond > 0, output.ToString());
        Assert.Contains("episodes/s", output.ToString(), StringComparison.Ordinal);
    }
}
