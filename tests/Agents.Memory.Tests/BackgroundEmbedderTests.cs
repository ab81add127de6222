using Agents.Contracts;
using Agents.Memory.Api;
using Agents.Memory.Data;
using Agents.Memory.Embeddings;
using Agents.Memory.Memories;
using Agents.Memory.Tests.Infrastructure;
using Agents.Memory.VectorSearch;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Agents.Memory.Tests;

/// <summary>A memory host whose background embedder does not run by itself: the tests run embedders by hand.</summary>
public sealed class ManualEmbedderHost : MemoryHost
{
    public ManualEmbedderHost()
    {
        Settings["Memory:Embedder:Enabled"] = "false";
    }
}

/// <summary>
/// Episodes are stored at once without an embedding and embedded later, in batches, by the background embedder:
/// pending state in the database, claimed with FOR UPDATE SKIP LOCKED, recallable after the commit.
/// </summary>
public sealed class BackgroundEmbedderTests(ManualEmbedderHost host) : IClassFixture<ManualEmbedderHost>
{
    private IBus Bus => host.Services.GetRequiredService<IBus>();

    private BackgroundEmbedder Embedder => host.Services.GetRequiredService<BackgroundEmbedder>();

    [Fact]
    public async Task A_finished_task_is_stored_at_once_without_an_embedding_and_is_recallable_after_the_embedder_embeds_the_batch()
    {
        var principal = MemoryHost.NewPrincipal();
        string[] goals =
        [
            "Rotate the TLS certificates of the payment gateway",
            "Summarize the open support tickets of customer ACME",
            "Find out why the nightly database backup failed",
        ];
        var tasks = goals.Select(_ => Guid.NewGuid()).ToArray();
        var callsBefore = host.Embeddings.Calls;
        for (var i = 0; i < goals.Length; i++)
        {
            await Bus.Publish(Finished(tasks[i], principal, goals[i]));
        }

        var stored = await StoredAsync(tasks);
        Assert.Equal(tasks.Length, stored.Count);
        Assert.All(stored, m => Assert.Null(m.Embedding));
        Assert.All(stored, m => Assert.Equal(MemoryKinds.Episodic, m.Kind));
        Assert.Equal(callsBefore, host.Embeddings.Calls); // the consumer made no model call

        using var client = host.ClientFor(principal);
        var listed = await (await client.GetAsync(new Uri($"/api/memories/{tasks[2]}", UriKind.Relative))).ReadAsync<MemoryView>();
        Assert.Contains("nightly database backup", listed.Text, StringComparison.Ordinal);
        var beforeEmbedding = await RecallAsync(client, "Why did the database backup fail last night?");
        Assert.Empty(beforeEmbedding.Hits); // pending memories are not vector-recalled yet

        var callsBeforeEmbedding = host.Embeddings.Calls;
        var embedded = await Embedder.EmbedPendingAsync(CancellationToken.None);

        Assert.Equal(goals.Length, embedded);
        var batch = Assert.Single(host.Embeddings.Batches.Skip(callsBeforeEmbedding));
        Assert.Equal(goals.Length, batch.Length); // one model call for the whole batch
        Assert.All(await StoredAsync(tasks), m => Assert.Equal(MiniLmEmbeddingGenerator.Dimensions, m.Embedding?.Length));
        var afterEmbedding = await RecallAsync(client, "Why did the database backup fail last night?");
        Assert.Equal(tasks[2], afterEmbedding.Hits[0].Memory.Id);
        Assert.Equal(0, await Embedder.EmbedPendingAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_batch_cut_off_by_a_crash_stays_pending_meanwhile_another_embedder_skips_it_and_afterwards_embeds_it_once()
    {
        var principal = MemoryHost.NewPrincipal();
        var tasks = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();
        for (var i = 0; i < tasks.Length; i++)
        {
            await Bus.Publish(Finished(tasks[i], principal, $"Reconcile the invoices of supplier {i} for November"));
        }

        Assert.Equal(tasks.Length, (await StoredAsync(tasks)).Count);
        var gate = new GatedEmbeddingGenerator(SharedEmbeddings.Generator);
        var crashing = ActivatorUtilities.CreateInstance<BackgroundEmbedder>(host.Services, (IEmbeddingGenerator<string, Embedding<float>>)gate);
        var cutOff = crashing.EmbedPendingAsync(CancellationToken.None);
        var claimed = await gate.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(tasks.Length, claimed.Length);

        // While the batch is claimed, another embedder (another replica) finds nothing it may take.
        var callsBefore = host.Embeddings.Calls;
        Assert.Equal(0, await Embedder.EmbedPendingAsync(CancellationToken.None));

        // The claiming process dies: PostgreSQL loses its connection in the middle of the transaction.
        Assert.Equal(1, await TerminateBackendsAsync("FOR UPDATE SKIP LOCKED"));
        gate.Release();
        await Assert.ThrowsAnyAsync<Exception>(() => cutOff);
        Assert.All(await StoredAsync(tasks), m => Assert.Null(m.Embedding));

        var embedded = await Embedder.EmbedPendingAsync(CancellationToken.None);

        Assert.Equal(tasks.Length, embedded);
        Assert.Equal(tasks.Length, Assert.Single(host.Embeddings.Batches.Skip(callsBefore)).Length);
        Assert.All(await StoredAsync(tasks), m => Assert.NotNull(m.Embedding));
        using var client = host.ClientFor(principal);
        var recall = await RecallAsync(client, "supplier invoices reconciliation");
        Assert.Equal(tasks.Length, recall.Hits.Count);
    }

    [Fact]
    public async Task Two_embedders_at_once_take_disjoint_batches_and_embed_every_pending_memory_exactly_once()
    {
        var principals = Enumerable.Range(0, 4).Select(_ => MemoryHost.NewPrincipal()).ToArray();
        var ids = new List<Guid>();
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var store = scope.ServiceProvider.GetRequiredService<MemoryStore>();
            for (var i = 0; i < 40; i++)
            {
                var principal = principals[i % principals.Length];
                var id = Guid.NewGuid();
                ids.Add(id);
                Assert.True(await store.StorePendingAsync(
                    new MemoryScope(principal.TenantId, principal.UserId),
                    new NewMemory(id, MemoryKinds.Episodic, $"Task {i} completed: shipped order {i * 11} to warehouse {i % 3}.", $"task:{id:D}", TrustLevel.Trusted, id),
                    CancellationToken.None));
            }
        }

        var first = new GatedEmbeddingGenerator(SharedEmbeddings.Generator);
        var second = new CountingEmbeddingGenerator(SharedEmbeddings.Generator);
        var embedderA = ActivatorUtilities.CreateInstance<BackgroundEmbedder>(host.Services, (IEmbeddingGenerator<string, Embedding<float>>)first);
        var embedderB = ActivatorUtilities.CreateInstance<BackgroundEmbedder>(host.Services, (IEmbeddingGenerator<string, Embedding<float>>)second);

        // A claims a full batch and is held in the model call; B runs meanwhile and drains the rest.
        var runA = embedderA.EmbedPendingAsync(CancellationToken.None);
        var batchA = await first.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        var embeddedB = 0;
        while (await embedderB.EmbedPendingAsync(CancellationToken.None) is var count and > 0)
        {
            embeddedB += count;
        }

        first.Release();
        var embeddedA = await runA;

        Assert.Equal(32, batchA.Length); // Memory:Embedder:BatchSize
        Assert.Equal(32, embeddedA);
        Assert.Equal(8, embeddedB);
        var textsB = second.Batches.SelectMany(b => b).ToArray();
        Assert.Empty(batchA.Intersect(textsB));
        Assert.Equal(40, batchA.Concat(textsB).Distinct().Count());
        Assert.All(await StoredAsync([.. ids]), m => Assert.NotNull(m.Embedding));
    }

    [Fact]
    public async Task A_repeated_recall_query_is_answered_from_the_cache_without_a_model_call()
    {
        var principal = MemoryHost.NewPrincipal();
        using var client = host.ClientFor(principal);
        var fact = await (await client.PostJsonAsync("/api/memories", new StoreMemoryRequest("The staging cluster runs in Frankfurt.", "user", TrustLevel.Trusted, null, null, null, null))).ReadAsync<MemoryView>();
        var cache = host.Services.GetRequiredService<QueryEmbeddingCache>();
        var callsBefore = host.Embeddings.Calls;
        var hitsBefore = cache.Hits;

        var first = await RecallAsync(client, "Where does the staging cluster run?");
        var callsAfterFirst = host.Embeddings.Calls;
        var again = await RecallAsync(client, "  Where does the   staging cluster\trun?  ");
        var overTheBus = await Bus.CreateRequestClient<RecallMemories>(RequestTimeout.After(s: 30))
            .GetResponse<MemoriesRecalled>(new RecallMemories(Guid.NewGuid(), principal, "Where does the staging cluster run?", 3));

        Assert.Equal(callsBefore + 1, callsAfterFirst);
        Assert.Equal(callsAfterFirst, host.Embeddings.Calls); // neither repetition embedded anything
        Assert.Equal(hitsBefore + 2, cache.Hits);
        Assert.Equal(fact.Id, Assert.Single(first.Hits).Memory.Id);
        Assert.Equal(fact.Id, Assert.Single(again.Hits).Memory.Id);
        Assert.Equal(first.Hits[0].Similarity, again.Hits[0].Similarity);
        Assert.Equal(fact.Id, Assert.Single(overTheBus.Message.Memories).MemoryId);
    }

    private static TaskRunFinished Finished(Guid taskId, AgentPrincipal principal, string goal) =>
        new(taskId, principal, goal, TaskRunStatus.Completed, null, null, new TaskUsage(2, 1, 300, 80, 0.001m), DateTimeOffset.UtcNow);

    private static async Task<RecallResponse> RecallAsync(HttpClient client, string query) =>
        await (await client.PostJsonAsync("/api/memories/recall", new RecallRequest(query, 10, null, null))).ReadAsync<RecallResponse>();

    /// <summary>The memories with these ids once all of them are stored (or what is there after the deadline).</summary>
    private Task<List<MemoryRecord>> StoredAsync(Guid[] ids) =>
        HttpExtensions.EventuallyAsync(
            () => host.WithDbAsync(db => db.Memories.AsNoTracking().Where(m => ids.Contains(m.Id)).ToListAsync()),
            rows => rows.Count == ids.Length);

    /// <summary>Ends the database sessions of this test database whose last statement contains <paramref name="statement"/>, as a crash of their process would.</summary>
    private async Task<int> TerminateBackendsAsync(string statement)
    {
        await using var connection = new NpgsqlConnection(host.Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction' AND position($1 in query) > 0
            """,
            connection);
        command.Parameters.Add(new NpgsqlParameter { Value = statement });
        return (int)(long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The real model, held at the door of its first call until released: a batch that is claimed and still being embedded.</summary>
    private sealed class GatedEmbeddingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner) : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
    {
        private readonly TaskCompletionSource<string[]> _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes with the texts of the first call when it arrives.</summary>
        public Task<string[]> Entered => _entered.Task;

        public void Release() => _release.TrySetResult();

        public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            var texts = values.ToArray();
            _entered.TrySetResult(texts);
            await _release.Task.WaitAsync(cancellationToken);
            return await base.GenerateAsync(texts, options, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
