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
[Trait("Category", "Infrastructure")]
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
    public async Task An_episode_is_embedded_by_its_headline_and_recalled_whole()
    {
        var principal = MemoryHost.NewPrincipal();
        var task = Guid.NewGuid();
        var result = "{\"lookup\":{\"id\":\"C-1003\",\"plan\":\"free\"},\"summary\":\"" + string.Concat(Enumerable.Repeat("The customer asked how to reset a password. ", 60)) + "\"}";
        await Bus.Publish(new TaskRunFinished(
            task, principal, null, TaskRunStatus.Completed, result, null, new TaskUsage(3, 2, 400, 90, 0.001m), DateTimeOffset.UtcNow, Template: "lookup-and-summarize"));
        var stored = Assert.Single(await StoredAsync([task]));
        Assert.Contains(": template lookup-and-summarize\nResult: ", stored.Text, StringComparison.Ordinal);
        Assert.True(stored.Text.Length > 1000);

        var callsBefore = host.Embeddings.Calls;
        Assert.Equal(1, await Embedder.EmbedPendingAsync(CancellationToken.None));

        // The model saw the headline (outcome, date, template, the words of the start of the result), not the whole result.
        var embeddedText = Assert.Single(Assert.Single(host.Embeddings.Batches.Skip(callsBefore)));
        Assert.Equal(EpisodeHeadline.Of(stored.Text[..EpisodeHeadline.SourceCharacters(320)], 320), embeddedText);
        Assert.StartsWith("Task completed on ", embeddedText, StringComparison.Ordinal);
        Assert.Contains("template lookup-and-summarize Result: lookup id C-1003 plan free summary The customer asked", embeddedText, StringComparison.Ordinal);
        Assert.InRange(embeddedText.Length, 300, 320);
        using var client = host.ClientFor(principal);
        var recalled = await RecallAsync(client, "lookup-and-summarize of customer C-1003");
        var hit = Assert.Single(recalled.Hits);
        Assert.Equal(stored.Text, hit.Memory.Text);
    }

    [Fact]
    public async Task An_embedder_that_stops_mid_batch_holds_it_until_its_lease_runs_out_then_another_embeds_it_once_and_the_late_one_stores_nothing()
    {
        var principal = MemoryHost.NewPrincipal();
        var tasks = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();
        for (var i = 0; i < tasks.Length; i++)
        {
            await Bus.Publish(Finished(tasks[i], principal, $"Reconcile the invoices of supplier {i} for November"));
        }

        Assert.Equal(tasks.Length, (await StoredAsync(tasks)).Count);
        var gate = new GatedEmbeddingGenerator(SharedEmbeddings.Generator);
        var stalled = ActivatorUtilities.CreateInstance<BackgroundEmbedder>(host.Services, (IEmbeddingGenerator<string, Embedding<float>>)gate);
        var stalledRun = stalled.EmbedPendingAsync(CancellationToken.None);
        var claimed = await gate.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(tasks.Length, claimed.Length);

        // While the lease holds, another embedder (another replica) finds nothing it may take.
        var callsBefore = host.Embeddings.Calls;
        Assert.Equal(0, await Embedder.EmbedPendingAsync(CancellationToken.None));
        Assert.All(await StoredAsync(tasks), m => Assert.Null(m.Embedding));

        // The stalled embedder is as good as dead: once its lease has run out the batch is claimed again.
        host.Time.Advance(new MemoryOptions().Embedder.Lease + TimeSpan.FromSeconds(1));
        var embedded = await Embedder.EmbedPendingAsync(CancellationToken.None);

        Assert.Equal(tasks.Length, embedded);
        Assert.Equal(tasks.Length, Assert.Single(host.Embeddings.Batches.Skip(callsBefore)).Length);
        Assert.All(await StoredAsync(tasks), m => Assert.NotNull(m.Embedding));

        // It was only slow after all: its claim is gone, so it stores nothing.
        gate.Release();
        Assert.Equal(0, await stalledRun);
        using var client = host.ClientFor(principal);
        var recall = await RecallAsync(client, "supplier invoices reconciliation");
        Assert.Equal(tasks.Length, recall.Hits.Count);
    }

    [Fact]
    public async Task Episodes_left_pending_while_no_embedder_ran_are_embedded_by_a_replica_that_starts_with_one()
    {
        var principal = MemoryHost.NewPrincipal();
        var ids = await StorePendingAsync([principal], 3);
        Assert.All(await StoredAsync(ids), m => Assert.Null(m.Embedding));

        // As after a restart: the pending state is in the database, and the embedder drains it when it starts.
        var replica = host.StartReplica(new Dictionary<string, string?> { ["Memory:Embedder:Enabled"] = "true" });
        try
        {
            var embedded = await HttpExtensions.EventuallyAsync(() => StoredNowAsync(ids), rows => rows.All(m => m.Embedding is not null));
            Assert.All(embedded, m => Assert.NotNull(m.Embedding));
        }
        finally
        {
            await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_batch_whose_model_call_fails_is_given_back_at_once_and_the_next_run_embeds_it()
    {
        var principal = MemoryHost.NewPrincipal();
        var ids = await StorePendingAsync([principal], 3);
        var failing = ActivatorUtilities.CreateInstance<BackgroundEmbedder>(host.Services, (IEmbeddingGenerator<string, Embedding<float>>)new FakeUnreachableEmbeddingEndpoint());

        await Assert.ThrowsAsync<HttpRequestException>(() => failing.EmbedPendingAsync(CancellationToken.None));
        Assert.All(await StoredAsync(ids), m => Assert.Null(m.Embedding));

        // No lease to wait for: the failed run gave its claim back.
        Assert.Equal(3, await Embedder.EmbedPendingAsync(CancellationToken.None));
        Assert.All(await StoredAsync(ids), m => Assert.NotNull(m.Embedding));
    }

    [Fact]
    public async Task Two_embedders_at_once_take_disjoint_batches_and_embed_every_pending_memory_exactly_once()
    {
        var ids = await StorePendingAsync(Enumerable.Range(0, 4).Select(_ => MemoryHost.NewPrincipal()).ToArray(), 40);
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
        Assert.All(await StoredAsync(ids), m => Assert.NotNull(m.Embedding));
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

    /// <summary>The memories with these ids once all of them are stored.</summary>
    private Task<List<MemoryRecord>> StoredAsync(Guid[] ids) => HttpExtensions.EventuallyAsync(() => StoredNowAsync(ids), rows => rows.Count == ids.Length);

    private Task<List<MemoryRecord>> StoredNowAsync(Guid[] ids) =>
        host.WithDbAsync(db => db.Memories.AsNoTracking().Where(m => ids.Contains(m.Id)).ToListAsync());

    /// <summary>Stores <paramref name="count"/> pending episodes spread over <paramref name="principals"/>, as the consumer does.</summary>
    private async Task<Guid[]> StorePendingAsync(AgentPrincipal[] principals, int count)
    {
        var ids = new Guid[count];
        await using var scope = host.Services.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<MemoryStore>();
        for (var i = 0; i < count; i++)
        {
            var principal = principals[i % principals.Length];
            ids[i] = Guid.NewGuid();
            Assert.True(await store.StorePendingAsync(
                new MemoryScope(principal.TenantId, principal.UserId),
                new NewMemory(ids[i], MemoryKinds.Episodic, $"Task {i} completed: shipped order {i * 11} to warehouse {i % 3}.", $"task:{ids[i]:D}", TrustLevel.Trusted, ids[i]),
                CancellationToken.None));
        }

        return ids;
    }

    /// <summary>Stands in for a remote embedding endpoint (the OpenAI provider) that cannot be reached.</summary>
    private sealed class FakeUnreachableEmbeddingEndpoint : IEmbeddingGenerator<string, Embedding<float>>
    {
        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new HttpRequestException("Connection refused (embeddings.invalid:443)");

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
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
