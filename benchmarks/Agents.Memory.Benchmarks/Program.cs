using System.Diagnostics;
using System.Numerics.Tensors;
using Agents.Contracts;
using Agents.Memory;
using Agents.Memory.Data;
using Agents.Memory.Embeddings;
using Agents.Memory.Memories;
using Agents.Memory.VectorSearch;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

// Recall latency of the PostgreSQL-backed vector store (in-memory index per tenant+user) at 10k and
// 100k memories, embedding excluded; and MiniLM embedding throughput. Memories are seeded directly
// with random unit vectors (MiniLM would need ~40 minutes for 100k); queries are random unit vectors
// with the relevance threshold disabled, so every recall ranks a full candidate set and reads it back
// from PostgreSQL (the worst case for the database round trip).
var server = Environment.GetEnvironmentVariable("AGENTS_BENCH_POSTGRES") ?? "Host=127.0.0.1;Port=5432;Database=postgres;Username=agents;Password=agents";
var queries = int.TryParse(Environment.GetEnvironmentVariable("AGENTS_BENCH_QUERIES"), out var q) ? q : 500;
var sizes = new[] { 10_000, 100_000 };
const int Dimensions = MiniLmEmbeddingGenerator.Dimensions;
const int Top = 5;

var database = $"bench_memory_{Guid.NewGuid():N}"[..30];
await ExecuteAsync(server, $"CREATE DATABASE \"{database}\"");
var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString;
Console.WriteLine($"Memory benchmark: {Environment.ProcessorCount} cores, {queries} queries per size, top {Top}, {Dimensions} dimensions, database {database}");
Console.WriteLine($"Load average at start (other work on this machine): {LoadAverage()}");
try
{
    await using var dataSource = NpgsqlDataSource.Create(connectionString);
    var services = new ServiceCollection()
        .AddLogging()
        .AddSingleton(dataSource)
        .AddDbContext<MemoryDbContext>(o => o.UseNpgsql(dataSource))
        .AddSingleton(Options.Create(new MemoryOptions()))
        .AddSingleton(TimeProvider.System)
        .AddSingleton<IEmbeddingGenerator<string, Embedding<float>>, MiniLmEmbeddingGenerator>()
        .AddScoped<MemoryStore>();
    services.AddMemoryVectorStore();
    await using var provider = services.BuildServiceProvider();
    await using (var scope = provider.CreateAsyncScope())
    {
        await scope.ServiceProvider.GetRequiredService<MemoryDbContext>().Database.MigrateAsync();
    }

    var random = new Random(42);
    foreach (var size in sizes)
    {
        var memoryScope = new MemoryScope("bench-tenant", $"user-{size}");
        var seeding = Stopwatch.StartNew();
        await SeedAsync(dataSource, memoryScope, size, random);
        Console.WriteLine($"\n{size:N0} memories: seeded in {seeding.Elapsed.TotalSeconds:F1} s (binary COPY, random unit vectors)");

        await using var scope = provider.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<MemoryStore>();
        var load = Stopwatch.StartNew();
        await store.RecallByVectorAsync(memoryScope, RandomUnit(random), Top, -1, null, CancellationToken.None);
        Console.WriteLine($"  first recall (loads the index from PostgreSQL): {load.Elapsed.TotalMilliseconds:F0} ms");

        for (var i = 0; i < 20; i++)
        {
            await store.RecallByVectorAsync(memoryScope, RandomUnit(random), Top, -1, null, CancellationToken.None);
        }

        var recall = new double[queries];
        var cpuBefore = Environment.CpuUsage.TotalTime;
        for (var i = 0; i < queries; i++)
        {
            var query = RandomUnit(random);
            var started = Stopwatch.GetTimestamp();
            var hits = await store.RecallByVectorAsync(memoryScope, query, Top, -1, null, CancellationToken.None);
            recall[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (hits.Count != Top)
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
            await vectors.SearchAsync(memoryScope, query, Top * 4, -1, DateTimeOffset.UtcNow, CancellationToken.None);
            scan[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        Report("  recall, embedding excluded (version check + int8 SIMD scan + exact re-score + row fetch + re-rank)", recall);
        Report("  vector store search only (version check + int8 SIMD scan + exact re-score)", scan);
        Console.WriteLine($"  process CPU time per recall (all threads, mean): {cpuPerRecall:F2} ms");
        Console.WriteLine($"  load average after: {LoadAverage()}");
    }

    // Embedding throughput with the real model.
    var generator = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
    var sentences = Enumerable.Range(0, 200).Select(i => $"Customer {i} reported that the invoice for order {i * 7} was charged twice last week.").ToArray();
    var first = Stopwatch.StartNew();
    await generator.GenerateAsync([sentences[0]]);
    Console.WriteLine($"\nEmbedding (MiniLM, local): first call {first.Elapsed.TotalMilliseconds:F0} ms (loads the model)");
    var single = new double[sentences.Length];
    for (var i = 0; i < sentences.Length; i++)
    {
        var started = Stopwatch.GetTimestamp();
        await generator.GenerateAsync([sentences[i]]);
        single[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    Report("  one sentence per call", single);
    Console.WriteLine($"  throughput one at a time: {1000 / single.Average():F1} sentences/s");
    var batched = Stopwatch.StartNew();
    foreach (var batch in sentences.Chunk(32))
    {
        await generator.GenerateAsync(batch);
    }

    Console.WriteLine($"  throughput in batches of 32: {sentences.Length / batched.Elapsed.TotalSeconds:F1} sentences/s");
}
finally
{
    NpgsqlConnection.ClearAllPools();
    await ExecuteAsync(server, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

static void Report(string label, double[] samples)
{
    var sorted = samples.Order().ToArray();
    double Percentile(double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    Console.WriteLine($"{label}: p50 {Percentile(0.50):F2} ms, p99 {Percentile(0.99):F2} ms, mean {samples.Average():F2} ms, max {sorted[^1]:F2} ms");
}

static float[] RandomUnit(Random random)
{
    var vector = new float[Dimensions];
    for (var i = 0; i < vector.Length; i++)
    {
        vector[i] = (float)((random.NextDouble() * 2) - 1);
    }

    TensorPrimitives.Divide(vector, TensorPrimitives.Norm(vector), vector);
    return vector;
}

static async Task SeedAsync(NpgsqlDataSource dataSource, MemoryScope scope, int count, Random random)
{
    await using var connection = await dataSource.OpenConnectionAsync();
    var now = DateTimeOffset.UtcNow;
    await using (var writer = await connection.BeginBinaryImportAsync(
        "COPY memories (tenant_id, user_id, id, kind, text, source, trust, created_at, embedding) FROM STDIN (FORMAT BINARY)"))
    {
        for (var i = 0; i < count; i++)
        {
            await writer.StartRowAsync();
            await writer.WriteAsync(scope.TenantId, NpgsqlDbType.Varchar);
            await writer.WriteAsync(scope.UserId, NpgsqlDbType.Varchar);
            await writer.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid);
            await writer.WriteAsync(i % 5 == 0 ? MemoryKinds.Episodic : MemoryKinds.Semantic, NpgsqlDbType.Varchar);
            await writer.WriteAsync($"Benchmark memory {i}: a sentence of typical length about a customer, a ticket or a task outcome.", NpgsqlDbType.Text);
            await writer.WriteAsync("benchmark", NpgsqlDbType.Varchar);
            await writer.WriteAsync(nameof(TrustLevel.Untrusted), NpgsqlDbType.Varchar);
            await writer.WriteAsync(now.AddMinutes(-random.Next(0, 90 * 24 * 60)), NpgsqlDbType.TimestampTz);
            await writer.WriteAsync(RandomUnit(random), NpgsqlDbType.Array | NpgsqlDbType.Real);
        }

        await writer.CompleteAsync();
    }

    await using var version = new NpgsqlCommand("INSERT INTO memory_scopes (tenant_id, user_id, version) VALUES ($1, $2, 1)", connection);
    version.Parameters.Add(new NpgsqlParameter { Value = scope.TenantId });
    version.Parameters.Add(new NpgsqlParameter { Value = scope.UserId });
    await version.ExecuteNonQueryAsync();
    await using var analyze = new NpgsqlCommand("ANALYZE memories", connection);
    await analyze.ExecuteNonQueryAsync();
}

static async Task ExecuteAsync(string connectionString, string sql)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(sql, connection);
    await command.ExecuteNonQueryAsync();
}
