using System.Diagnostics;
using System.Numerics.Tensors;
using Agents.Contracts;
using Agents.Memory.Consumers;
using Agents.Memory.Data;
using Agents.Memory.Embeddings;
using Agents.Memory.Memories;
using Agents.Memory.VectorSearch;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NpgsqlTypes;

namespace Agents.Memory.Benchmarks;

/// <summary>What to measure, and how much of it.</summary>
/// <param name="Sizes">Memories in the scope for the recall measurements.</param>
/// <param name="Queries">Recalls measured per size.</param>
/// <param name="Sentences">Sentences embedded one at a time and in batches.</param>
/// <param name="Episodes">Finished-task episodes stored each way.</param>
/// <param name="BatchSize">The background embedder's batch size.</param>
public sealed record MemoryBenchmarkSettings(int[] Sizes, int Queries, int Sentences, int Episodes, int BatchSize = 32)
{
    /// <summary>The figures in the memory README: 10k and 100k memories (≈ 1–3 minutes).</summary>
    public static MemoryBenchmarkSettings Full { get; } = new([10_000, 100_000], 500, 200, 256);

    /// <summary>Tiny sizes, a few seconds: proves that the benchmark still runs (the test suite runs it).</summary>
    public static MemoryBenchmarkSettings Smoke { get; } = new([500], 20, 4, 12, BatchSize: 8);
}

public sealed record RecallFigures(int Size, double LoadMilliseconds, Percentiles Recall, Percentiles SearchOnly, double CpuMillisecondsPerRecall);

public sealed record EmbeddingFigures(double FirstCallMilliseconds, Percentiles Single, double SinglePerSecond, double BatchedPerSecond);

/// <summary>Episodes of finished tasks: the old path (embedded by the consumer, one at a time) against stored pending + embedded in batches.</summary>
public sealed record EpisodeFigures(
    int Episodes,
    double InlinePerSecond,
    double InlineCpuMilliseconds,
    double PendingStorePerSecond,
    double PendingStoreCpuMilliseconds,
    double BatchedEmbedPerSecond,
    double BatchedEmbedCpuMilliseconds,
    int Batches,
    long LeftPending);

public sealed record Percentiles(double P50, double P99, double Mean, double Max)
{
    public static Percentiles Of(double[] samples)
    {
        var sorted = samples.Order().ToArray();
        double At(double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
        return new Percentiles(At(0.50), At(0.99), samples.Average(), sorted[^1]);
    }

    public override string ToString() => $"p50 {P50:F2} ms, p99 {P99:F2} ms, mean {Mean:F2} ms, max {Max:F2} ms";
}

public sealed record MemoryBenchmarkReport(IReadOnlyList<RecallFigures> Recall, EmbeddingFigures Embedding, WeightFigures Weights, EpisodeFigures Episodes);

/// <summary>MiniLM on its float weights against 8-bit weights, on texts the length of an episode's headline.</summary>
public sealed record WeightFigures(double FloatCpuMilliseconds, double Int8CpuMilliseconds, double MinCosine, double MeanCosine, double SameNearest, double NearestInThree);

/// <summary>
/// Recall latency of the PostgreSQL-backed vector store (in-memory index per tenant+user), embedding excluded;
/// MiniLM embedding throughput one at a time and batched; and the episode path of finished tasks, embedded
/// by the consumer one by one (as before) against stored pending and embedded by the background embedder in
/// batches. Recall memories are seeded with random unit vectors by binary COPY (MiniLM would need ~40
/// minutes for 100k); queries are random unit vectors with the relevance threshold disabled, so every
/// recall ranks a full candidate set and reads it back from PostgreSQL (the worst case for the database part).
/// Runs on the services' own registrations (<c>AddMemoryStore</c>), so it breaks when they do, not silently.
/// </summary>
public static class MemoryBenchmark
{
    private const int Dimensions = MiniLmEmbeddingGenerator.Dimensions;
    private const int Top = 5;

    /// <summary>Runs everything against <paramref name="connectionString"/> (an empty database; migrated here).</summary>
    public static async Task<MemoryBenchmarkReport> RunAsync(
        string connectionString,
        MemoryBenchmarkSettings settings,
        TextWriter output,
        IEmbeddingGenerator<string, Embedding<float>>? generator = null,
        CancellationToken cancellationToken = default)
    {
        output.WriteLine($"Memory benchmark: {Environment.ProcessorCount} cores, sizes {string.Join(", ", settings.Sizes)}, {settings.Queries} queries per size, top {Top}, {Dimensions} dimensions");
        output.WriteLine($"Load average at start (other work on this machine): {LoadAverage()}");
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var services = new ServiceCollection().AddLogging().AddSingleton(dataSource);
        services.AddOptions<MemoryOptions>().Configure(o =>
        {
            o.Embedder.BatchSize = settings.BatchSize;
            o.Embedder.BatchWindow = TimeSpan.Zero;
        });
        services.AddMemoryStore();
        if (generator is not null)
        {
            services.AddSingleton(generator);
        }

        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        await using (var scope = provider.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<MemoryDbContext>().Database.MigrateAsync(cancellationToken);
        }

        var recall = new List<RecallFigures>();
        var random = new Random(42);
        foreach (var size in settings.Sizes)
        {
            recall.Add(await MeasureRecallAsync(provider, dataSource, size, settings.Queries, random, output, cancellationToken));
        }

        var embedding = await MeasureEmbeddingAsync(provider, settings.Sentences, output, cancellationToken);
        var weights = await MeasureWeightsAsync(settings.Sentences, output, cancellationToken);
        var episodes = await MeasureEpisodesAsync(provider, dataSource, settings, output, cancellationToken);
        output.WriteLine($"Load average at the end: {LoadAverage()}");
        return new MemoryBenchmarkReport(recall, embedding, weights, episodes);
    }

    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static async Task<RecallFigures> MeasureRecallAsync(
        ServiceProvider provider, NpgsqlDataSource dataSource, int size, int queries, Random random, TextWriter output, CancellationToken cancellationToken)
    {
        var memoryScope = new MemoryScope("bench-tenant", $"user-{size}");
        var seeding = Stopwatch.StartNew();
        await SeedAsync(dataSource, memoryScope, size, random, cancellationToken);
        output.WriteLine($"\n{size:N0} memories: seeded in {seeding.Elapsed.TotalSeconds:F1} s (binary COPY, random unit vectors)");

        await using var scope = provider.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<MemoryStore>();
        var load = Stopwatch.StartNew();
        await store.RecallByVectorAsync(memoryScope, RandomUnit(random), Top, -1, null, cancellationToken);
        var loadMilliseconds = load.Elapsed.TotalMilliseconds;
        output.WriteLine($"  first recall (loads the index from PostgreSQL): {loadMilliseconds:F0} ms");

        for (var i = 0; i < Math.Min(20, queries); i++)
        {
            await store.RecallByVectorAsync(memoryScope, RandomUnit(random), Top, -1, null, cancellationToken);
        }

        var latencies = new double[queries];
        var cpuBefore = Environment.CpuUsage.TotalTime;
        for (var i = 0; i < queries; i++)
        {
            var query = RandomUnit(random);
            var started = Stopwatch.GetTimestamp();
            var hits = await store.RecallByVectorAsync(memoryScope, query, Top, -1, null, cancellationToken);
            latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (hits.Count != Math.Min(Top, size))
            {
                throw new InvalidOperationException($"Expected {Top} hits, got {hits.Count}.");
            }
        }

        var cpuPerRecall = (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds / queries;
        var vectors = provider.GetRequiredService<PostgresVectorStore>();
        var scan = new double[queries];
        for (var i = 0; i < queries; i++)
        {
            var query = RandomUnit(random);
            var started = Stopwatch.GetTimestamp();
            await vectors.SearchAsync(memoryScope, query, Top * 4, -1, DateTimeOffset.UtcNow, cancellationToken);
            scan[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        var figures = new RecallFigures(size, loadMilliseconds, Percentiles.Of(latencies), Percentiles.Of(scan), cpuPerRecall);
        output.WriteLine($"  recall, embedding excluded (version check + int8 SIMD scan + exact re-score + row fetch + re-rank): {figures.Recall}");
        output.WriteLine($"  vector store search only (version check + int8 SIMD scan + exact re-score): {figures.SearchOnly}");
        output.WriteLine($"  process CPU time per recall (all threads, mean): {cpuPerRecall:F2} ms");
        output.WriteLine($"  load average after: {LoadAverage()}");
        return figures;
    }

    private static async Task<EmbeddingFigures> MeasureEmbeddingAsync(ServiceProvider provider, int count, TextWriter output, CancellationToken cancellationToken)
    {
        var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        var sentences = Enumerable.Range(0, count).Select(i => $"Customer {i} reported that the invoice for order {i * 7} was charged twice last week.").ToArray();
        var first = Stopwatch.StartNew();
        await generator.GenerateAsync([sentences[0]], cancellationToken: cancellationToken);
        var firstMilliseconds = first.Elapsed.TotalMilliseconds;
        output.WriteLine($"\nEmbedding (MiniLM, local): first call {firstMilliseconds:F0} ms (loads the model unless it is loaded)");
        var single = new double[sentences.Length];
        for (var i = 0; i < sentences.Length; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await generator.GenerateAsync([sentences[i]], cancellationToken: cancellationToken);
            single[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        var batched = Stopwatch.StartNew();
        foreach (var batch in sentences.Chunk(32))
        {
            await generator.GenerateAsync(batch, cancellationToken: cancellationToken);
        }

        var figures = new EmbeddingFigures(firstMilliseconds, Percentiles.Of(single), 1000 / single.Average(), sentences.Length / batched.Elapsed.TotalSeconds);
        output.WriteLine($"  one sentence per call: {figures.Single}");
        output.WriteLine($"  throughput one at a time: {figures.SinglePerSecond:F1} sentences/s");
        output.WriteLine($"  throughput in batches of 32: {figures.BatchedPerSecond:F1} sentences/s");
        return figures;
    }

    /// <summary>
    /// CPU per text of the float and the 8-bit model on texts of about 90 word pieces (an episode's headline) in calls of
    /// <see cref="MiniLmEmbeddingGenerator.TextsPerTurn"/>, the cosine between the two vectors of each text, and how often
    /// both models pick the same nearest other text.
    /// </summary>
    private static async Task<WeightFigures> MeasureWeightsAsync(int count, TextWriter output, CancellationToken cancellationToken)
    {
        string[] topics = ["invoice", "password", "shipment", "refund", "outage", "contract", "subscription", "warehouse"];
        var texts = Enumerable.Range(0, count)
            .Select(i => $"Look up customer C-{1000 + (i % 37)} and summarize the {topics[i % topics.Length]} history: the crm lookup found "
                + $"account {i * 13} in region {i % 5} with {i % 9} open tickets about the {topics[(i / 3) % topics.Length]}, and the fetched page "
                + $"says that orders placed after day {i % 28} of the month ship within {2 + (i % 4)} working days unless the {topics[(i / 7) % topics.Length]} is disputed.")
            .ToArray();
        using var full = new MiniLmEmbeddingGenerator(int8: false);
        using var int8 = new MiniLmEmbeddingGenerator(int8: true);
        async Task<(float[][] Vectors, double CpuMilliseconds)> RunAsync(MiniLmEmbeddingGenerator generator)
        {
            await generator.GenerateAsync([texts[0]], cancellationToken: cancellationToken);
            var cpuBefore = Environment.CpuUsage.TotalTime;
            var vectors = new List<float[]>(texts.Length);
            foreach (var turn in texts.Chunk(MiniLmEmbeddingGenerator.TextsPerTurn))
            {
                vectors.AddRange((await generator.GenerateAsync(turn, cancellationToken: cancellationToken)).Select(e => e.Vector.ToArray()));
            }

            return ([.. vectors], (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds / texts.Length);
        }

        var (floatVectors, floatCpu) = await RunAsync(full);
        var (int8Vectors, int8Cpu) = await RunAsync(int8);
        var cosines = floatVectors.Select((v, i) => (double)TensorPrimitives.CosineSimilarity(v, int8Vectors[i])).ToArray();
        int[] Nearest(float[][] vectors, int i, int top) =>
            [.. Enumerable.Range(0, vectors.Length).Where(j => j != i).OrderByDescending(j => TensorPrimitives.Dot(vectors[i], vectors[j])).Take(top)];
        var same = Enumerable.Range(0, texts.Length).Count(i => Nearest(floatVectors, i, 1)[0] == Nearest(int8Vectors, i, 1)[0]) / (double)texts.Length;
        var inThree = Enumerable.Range(0, texts.Length).Count(i => Nearest(int8Vectors, i, 3).Contains(Nearest(floatVectors, i, 1)[0])) / (double)texts.Length;
        var figures = new WeightFigures(floatCpu, int8Cpu, cosines.Min(), cosines.Average(), same, inThree);
        output.WriteLine($"\nMiniLM weights, {texts.Length} texts of an episode headline's length in calls of {MiniLmEmbeddingGenerator.TextsPerTurn}:");
        output.WriteLine($"  CPU per text: float {figures.FloatCpuMilliseconds:F2} ms, 8-bit {figures.Int8CpuMilliseconds:F2} ms");
        output.WriteLine($"  cosine of the two vectors of a text: min {figures.MinCosine:F4}, mean {figures.MeanCosine:F4}; the float model's nearest other text is the 8-bit model's nearest for {figures.SameNearest:P0}, among its 3 nearest for {figures.NearestInThree:P0} (the texts differ in a few words)");
        return figures;
    }

    private static async Task<EpisodeFigures> MeasureEpisodesAsync(
        ServiceProvider provider, NpgsqlDataSource dataSource, MemoryBenchmarkSettings settings, TextWriter output, CancellationToken cancellationToken)
    {
        var count = settings.Episodes;
        output.WriteLine($"\nEpisodes of finished tasks ({count} each way, one transaction per episode as in the inbox; process CPU, PostgreSQL's own not included):");

        // As before: the consumer embeds the episode (one model call) and indexes it in its transaction.
        var inline = await MeasureConsumerAsync(provider, count, "inline", (store, scope, memory) => store.StoreAsync(scope, memory, cancellationToken), cancellationToken);
        output.WriteLine($"  embedded by the consumer, one at a time: {inline.PerSecond:F1} episodes/s, {inline.CpuMilliseconds:F2} ms CPU per episode");

        // Now: the consumer only inserts the row; the background embedder embeds in batches.
        var pending = await MeasureConsumerAsync(provider, count, "batched", (store, scope, memory) => store.StorePendingAsync(scope, memory, cancellationToken), cancellationToken);
        output.WriteLine($"  stored pending by the consumer (no embedding): {pending.PerSecond:F1} episodes/s, {pending.CpuMilliseconds:F2} ms CPU per episode");

        var embedder = provider.GetRequiredService<BackgroundEmbedder>();
        var batches = 0;
        var embedded = 0;
        var started = Stopwatch.GetTimestamp();
        var cpuBefore = Environment.CpuUsage.TotalTime;
        while (await embedder.EmbedPendingAsync(cancellationToken) is var claimed and > 0)
        {
            batches++;
            embedded += claimed;
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpu = (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds / Math.Max(1, embedded);
        await using var left = dataSource.CreateCommand("SELECT count(*) FROM memories WHERE embedding IS NULL");
        var leftPending = (long)(await left.ExecuteScalarAsync(cancellationToken))!;
        var perSecond = embedded / elapsed.TotalSeconds;
        output.WriteLine($"  embedded by the background embedder: {embedded} in {batches} batches of up to {settings.BatchSize}, {perSecond:F1} episodes/s, {cpu:F2} ms CPU per episode ({leftPending} left pending)");
        output.WriteLine($"  CPU per episode, consumer + embedder: {pending.CpuMilliseconds + cpu:F2} ms batched vs {inline.CpuMilliseconds:F2} ms one by one");
        return new EpisodeFigures(count, inline.PerSecond, inline.CpuMilliseconds, pending.PerSecond, pending.CpuMilliseconds, perSecond, cpu, batches, leftPending);
    }

    /// <summary>Stores <paramref name="count"/> episodes (after one for warm-up), each in a transaction of its own as a consumer's inbox does.</summary>
    private static async Task<(double PerSecond, double CpuMilliseconds)> MeasureConsumerAsync(
        ServiceProvider provider, int count, string run, Func<MemoryStore, MemoryScope, NewMemory, Task> store, CancellationToken cancellationToken)
    {
        async Task StoreOneAsync(int i)
        {
            await using var scope = provider.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MemoryDbContext>();
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var (memoryScope, memory) = Episode(i, run);
            await store(scope.ServiceProvider.GetRequiredService<MemoryStore>(), memoryScope, memory);
            await transaction.CommitAsync(cancellationToken);
        }

        await StoreOneAsync(-1);
        var started = Stopwatch.GetTimestamp();
        var cpuBefore = Environment.CpuUsage.TotalTime;
        for (var i = 0; i < count; i++)
        {
            await StoreOneAsync(i);
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        return (count / elapsed.TotalSeconds, (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds / count);
    }

    /// <summary>A finished task's episode as the consumer writes it, for one of a handful of users.</summary>
    private static (MemoryScope Scope, NewMemory Memory) Episode(int i, string run)
    {
        var principal = new AgentPrincipal("bench-tenant", $"{run}-user-{Math.Abs(i) % 8}", []);
        var finished = new TaskRunFinished(
            Guid.NewGuid(),
            principal,
            $"Look up customer {i} in the CRM and summarize their open support tickets for the account manager",
            TaskRunStatus.Completed,
            $"Customer {i} has three open tickets: a billing dispute about invoice {i * 13}, a delayed shipment of order {i * 7}, and a password reset that failed twice. The billing dispute is the oldest (12 days).",
            null,
            new TaskUsage(3, 2, 850, 240, 0.004m),
            DateTimeOffset.UtcNow);
        var memory = new NewMemory(finished.TaskId, MemoryKinds.Episodic, TaskRunFinishedConsumer.Describe(finished), $"task:{finished.TaskId:D}", TrustLevel.Untrusted, finished.TaskId);
        return (new MemoryScope(principal.TenantId, principal.UserId), memory);
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

    private static async Task SeedAsync(NpgsqlDataSource dataSource, MemoryScope scope, int count, Random random, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        await using (var writer = await connection.BeginBinaryImportAsync(
            "COPY memories (tenant_id, user_id, id, kind, text, source, trust, created_at, embedding) FROM STDIN (FORMAT BINARY)",
            cancellationToken))
        {
            for (var i = 0; i < count; i++)
            {
                await writer.StartRowAsync(cancellationToken);
                await writer.WriteAsync(scope.TenantId, NpgsqlDbType.Varchar, cancellationToken);
                await writer.WriteAsync(scope.UserId, NpgsqlDbType.Varchar, cancellationToken);
                await writer.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid, cancellationToken);
                await writer.WriteAsync(i % 5 == 0 ? MemoryKinds.Episodic : MemoryKinds.Semantic, NpgsqlDbType.Varchar, cancellationToken);
                await writer.WriteAsync($"Benchmark memory {i}: a sentence of typical length about a customer, a ticket or a task outcome.", NpgsqlDbType.Text, cancellationToken);
                await writer.WriteAsync("benchmark", NpgsqlDbType.Varchar, cancellationToken);
                await writer.WriteAsync(nameof(TrustLevel.Untrusted), NpgsqlDbType.Varchar, cancellationToken);
                await writer.WriteAsync(now.AddMinutes(-random.Next(0, 90 * 24 * 60)), NpgsqlDbType.TimestampTz, cancellationToken);
                await writer.WriteAsync(RandomUnit(random), NpgsqlDbType.Array | NpgsqlDbType.Real, cancellationToken);
            }

            await writer.CompleteAsync(cancellationToken);
        }

        await using var version = new NpgsqlCommand("INSERT INTO memory_scopes (tenant_id, user_id, version) VALUES ($1, $2, 1)", connection);
        version.Parameters.Add(new NpgsqlParameter { Value = scope.TenantId });
        version.Parameters.Add(new NpgsqlParameter { Value = scope.UserId });
        await version.ExecuteNonQueryAsync(cancellationToken);
        await using var analyze = new NpgsqlCommand("ANALYZE memories", connection);
        await analyze.ExecuteNonQueryAsync(cancellationToken);
    }
}
