using System.Diagnostics;
using System.Threading.Channels;
using Agents.Memory.Data;
using Agents.Memory.Memories;
using Agents.Memory.VectorSearch;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.Memory.Embeddings;

/// <summary>In-process wake-up of the <see cref="BackgroundEmbedder"/>, raised after a commit that stored pending memories.</summary>
public sealed class EmbedderSignal
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Wakes the embedder; while a wake-up is already pending this changes nothing.</summary>
    public void Notify() => _wake.Writer.TryWrite(true);

    /// <summary>Returns when notified or when <paramref name="timeout"/> has passed on <paramref name="time"/>.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            await _wake.Reader.ReadAsync(linked.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The sweep interval passed without a wake-up.
        }
    }
}

/// <summary>
/// Embeds memories stored without an embedding (episodes of finished tasks), off the consumers' path and in
/// batches: claims up to <c>Memory:Embedder:BatchSize</c> pending memories for a lease (one statement,
/// <c>FOR UPDATE SKIP LOCKED</c>), embeds their texts with one model call and no transaction open, then in one
/// transaction stores the vectors of the memories it still holds and bumps their scopes' versions, and updates
/// the vector index after that commit.
/// <para>
/// Pending is a database state (<c>embedding IS NULL</c>): a restart picks up whatever is left; an embedder that
/// dies mid-batch leaves its batch pending, claimed again when the lease (<c>Memory:Embedder:Lease</c>) has run
/// out; replicas claim disjoint batches (locked or leased rows are skipped), and only the holder of the current
/// claim may store a vector. So a memory is embedded once, unless an embedder outlives its lease.
/// </para>
/// </summary>
public sealed partial class BackgroundEmbedder(
    NpgsqlDataSource dataSource,
    IEmbeddingGenerator<string, Embedding<float>> embeddings,
    IVectorStore vectors,
    EmbedderSignal signal,
    IOptions<MemoryOptions> options,
    TimeProvider time,
    ILogger<BackgroundEmbedder> logger) : BackgroundService
{
    private const string ClaimSql =
        """
        UPDATE memories AS m SET embedding_claim = $3, embedding_claimed_until = $4
        FROM (
            SELECT tenant_id, user_id, id FROM memories
            WHERE embedding IS NULL AND stale_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
              AND (embedding_claimed_until IS NULL OR embedding_claimed_until <= $2)
            ORDER BY created_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED) AS pending
        WHERE m.tenant_id = pending.tenant_id AND m.user_id = pending.user_id AND m.id = pending.id
        RETURNING m.tenant_id, m.user_id, m.id, CASE WHEN m.kind = $5 THEN left(m.text, $6) ELSE m.text END, m.created_at, m.expires_at, m.kind = $5
        """;

    private const string BumpVersionSql =
        """
        INSERT INTO memory_scopes (tenant_id, user_id, version) VALUES ($1, $2, 1)
        ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = memory_scopes.version + 1
        RETURNING version
        """;

    // Only while this run still holds the claim, and never for a memory marked stale meanwhile (forgotten ones are gone).
    private const string StoreEmbeddingSql =
        """
        UPDATE memories SET embedding = $4, embedding_claim = NULL, embedding_claimed_until = NULL
        WHERE tenant_id = $1 AND user_id = $2 AND id = $3 AND embedding_claim = $5 AND stale_at IS NULL
        """;

    /// <summary>
    /// Claims one batch of pending memories, embeds it with one model call and commits the vectors; returns how
    /// many memories were embedded (0 when none was pending, every pending one is claimed by another embedder,
    /// or this run's claims were taken over after its lease ran out).
    /// </summary>
    public async Task<int> EmbedPendingAsync(CancellationToken cancellationToken)
    {
        using var activity = MemoryStore.Activity.StartActivity("memory embed pending");
        var settings = options.Value;
        var claimId = Guid.CreateVersion7(time.GetUtcNow());
        var now = StoredTime.Now(time);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);

        var claimed = new List<(MemoryScope Scope, Guid Id, string Text, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt)>();
        await using (var claim = new NpgsqlCommand(ClaimSql, connection))
        {
            claim.Parameters.Add(new NpgsqlParameter { Value = settings.Embedder.BatchSize });
            claim.Parameters.Add(new NpgsqlParameter { Value = now });
            claim.Parameters.Add(new NpgsqlParameter { Value = claimId });
            claim.Parameters.Add(new NpgsqlParameter { Value = now + settings.Embedder.Lease });
            claim.Parameters.Add(new NpgsqlParameter { Value = MemoryKinds.Episodic });
            claim.Parameters.Add(new NpgsqlParameter { Value = EpisodeHeadline.SourceCharacters(settings.Embedder.EpisodeHeadlineCharacters) });
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                claimed.Add((
                    new MemoryScope(reader.GetString(0), reader.GetString(1)),
                    reader.GetGuid(2),
                    reader.GetBoolean(6) ? EpisodeHeadline.Of(reader.GetString(3), settings.Embedder.EpisodeHeadlineCharacters) : reader.GetString(3),
                    reader.GetFieldValue<DateTimeOffset>(4),
                    reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5)));
            }
        }

        if (claimed.Count == 0)
        {
            return 0;
        }

        // The model call runs with no transaction open (it may be a remote endpoint); the claim keeps others off.
        var started = Stopwatch.GetTimestamp();
        var generationOptions = settings.Embeddings.Dimensions is { } dimensions ? new EmbeddingGenerationOptions { Dimensions = dimensions } : null;
        float[][] vectorsOf;
        try
        {
            var generated = await embeddings.GenerateAsync(claimed.Select(c => c.Text), generationOptions, cancellationToken);
            if (generated.Count != claimed.Count)
            {
                throw new InvalidOperationException($"The embedding generator returned {generated.Count} embeddings for {claimed.Count} texts.");
            }

            vectorsOf = generated.Select(g =>
            {
                var vector = g.Vector.ToArray();
                VectorMath.Normalize(vector);
                return vector;
            }).ToArray();
        }
        catch (Exception)
        {
            // Give the batch back at once rather than when the lease runs out (a process that dies cannot; the lease covers it).
            await ReleaseAsync(connection, claimId);
            throw;
        }

        var embeddingTime = Stopwatch.GetElapsedTime(started);

        // Scopes in a fixed order, so that two embedders bumping the same scopes never deadlock.
        var scopes = claimed.Select(c => c.Scope).Distinct()
            .OrderBy(s => s.TenantId, StringComparer.Ordinal).ThenBy(s => s.UserId, StringComparer.Ordinal)
            .ToList();
        var records = new Dictionary<MemoryScope, List<VectorRecord>>();
        var stored = 0;
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            foreach (var scope in scopes)
            {
                var bump = new NpgsqlBatchCommand(BumpVersionSql);
                bump.Parameters.Add(new NpgsqlParameter { Value = scope.TenantId });
                bump.Parameters.Add(new NpgsqlParameter { Value = scope.UserId });
                batch.BatchCommands.Add(bump);
                records[scope] = [];
            }

            for (var i = 0; i < claimed.Count; i++)
            {
                var memory = claimed[i];
                var store = new NpgsqlBatchCommand(StoreEmbeddingSql);
                store.Parameters.Add(new NpgsqlParameter { Value = memory.Scope.TenantId });
                store.Parameters.Add(new NpgsqlParameter { Value = memory.Scope.UserId });
                store.Parameters.Add(new NpgsqlParameter { Value = memory.Id });
                store.Parameters.Add(new NpgsqlParameter { Value = vectorsOf[i] });
                store.Parameters.Add(new NpgsqlParameter { Value = claimId });
                batch.BatchCommands.Add(store);
            }

            var versions = new List<long>(scopes.Count);
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                do
                {
                    if (versions.Count < scopes.Count && await reader.ReadAsync(cancellationToken))
                    {
                        versions.Add(reader.GetInt64(0));
                    }
                }
                while (await reader.NextResultAsync(cancellationToken));
            }

            for (var i = 0; i < claimed.Count; i++)
            {
                // Stored only where the claim still held; the rest belongs to whoever holds it now.
                if (batch.BatchCommands[scopes.Count + i].RecordsAffected == 1)
                {
                    var memory = claimed[i];
                    records[memory.Scope].Add(new VectorRecord(memory.Id, vectorsOf[i], memory.CreatedAt, memory.ExpiresAt));
                    stored++;
                }
            }

            await transaction.CommitAsync(cancellationToken);

            // The index learns about the vectors only now that they are committed.
            for (var i = 0; i < scopes.Count; i++)
            {
                try
                {
                    await vectors.UpsertAsync(scopes[i], records[scopes[i]], versions[i], cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Committed; the index catches up on its next reload (its version is behind now).
                    LogIndexFailed(ex);
                }
            }
        }

        activity?.SetTag("memory.batch", claimed.Count);
        activity?.SetTag("memory.embedding_ms", embeddingTime.TotalMilliseconds);
        LogEmbedded(stored, claimed.Count, scopes.Count, embeddingTime.TotalMilliseconds);
        return stored;
    }

    private async Task ReleaseAsync(NpgsqlConnection connection, Guid claimId)
    {
        try
        {
            await using var release = new NpgsqlCommand("UPDATE memories SET embedding_claim = NULL, embedding_claimed_until = NULL WHERE embedding_claim = $1", connection);
            release.Parameters.Add(new NpgsqlParameter { Value = claimId });
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            // The lease runs out by itself.
            LogReleaseFailed(ex);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // A local model is loaded now, not by the first request that embeds: loading takes seconds on a busy machine.
        // Stopping does not wait for it.
        if (options.Value.Embeddings.LoadAtStart && embeddings.GetService<MiniLmEmbeddingGenerator>() is { } local)
        {
            await local.LoadAsync(stoppingToken).WaitAsync(stoppingToken);
        }

        var settings = options.Value.Embedder;
        if (!settings.Enabled)
        {
            return;
        }

        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    // A full batch means more may be waiting: go on without waiting.
                    while (await EmbedPendingAsync(stoppingToken) >= settings.BatchSize)
                    {
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Nothing was committed: the batch stays pending. Wait a sweep interval (not for the next
                    // wake-up, which under load comes at once) so that a database outage is not hammered.
                    LogBatchFailed(settings.SweepInterval.TotalSeconds, ex);
                    await Task.Delay(settings.SweepInterval, time, stoppingToken);
                    continue;
                }

                await signal.WaitAsync(settings.SweepInterval, time, stoppingToken);
                if (settings.BatchWindow > TimeSpan.Zero)
                {
                    await Task.Delay(settings.BatchWindow, time, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Embedded {Stored} of {Claimed} claimed pending memories of {Scopes} scopes in one call ({Milliseconds:F0} ms).")]
    private partial void LogEmbedded(int stored, int claimed, int scopes, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Embedding pending memories failed; they stay pending and are claimed again within {Seconds} s.")]
    private partial void LogBatchFailed(double seconds, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Giving back a claimed batch after a failure failed; its lease runs out by itself.")]
    private partial void LogReleaseFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Updating the vector index after embedding a batch failed.")]
    private partial void LogIndexFailed(Exception exception);
}
