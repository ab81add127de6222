using System.Diagnostics;
using System.Threading.Channels;
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
/// batches: claims up to <c>Memory:Embedder:BatchSize</c> pending memories with <c>FOR UPDATE SKIP LOCKED</c>,
/// embeds their texts with one model call, stores the vectors and bumps the scopes' versions in the same
/// transaction, and updates the vector index after the commit.
/// <para>
/// Pending is a database state (<c>embedding IS NULL</c>): a restart picks up whatever is left, a crash
/// mid-batch rolls back and leaves the batch pending, and replicas claim disjoint batches (a row locked by
/// one embedder is skipped by the others), so a memory is embedded once unless a batch fails before its commit.
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
        SELECT tenant_id, user_id, id, text, created_at, expires_at
        FROM memories
        WHERE embedding IS NULL AND stale_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
        ORDER BY created_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED
        """;

    private const string BumpVersionSql =
        """
        INSERT INTO memory_scopes (tenant_id, user_id, version) VALUES ($1, $2, 1)
        ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = memory_scopes.version + 1
        RETURNING version
        """;

    private const string StoreEmbeddingSql = "UPDATE memories SET embedding = $4 WHERE tenant_id = $1 AND user_id = $2 AND id = $3";

    /// <summary>
    /// Claims one batch of pending memories, embeds it with one model call and commits the vectors;
    /// returns how many memories were embedded (0 when none was pending or every pending one is claimed by another embedder).
    /// </summary>
    public async Task<int> EmbedPendingAsync(CancellationToken cancellationToken)
    {
        using var activity = MemoryStore.Activity.StartActivity("memory embed pending");
        var settings = options.Value;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        var claimed = new List<(MemoryScope Scope, Guid Id, string Text, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt)>();
        await using (var claim = new NpgsqlCommand(ClaimSql, connection, transaction))
        {
            claim.Parameters.Add(new NpgsqlParameter { Value = settings.Embedder.BatchSize });
            claim.Parameters.Add(new NpgsqlParameter { Value = StoredTime.Now(time) });
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                claimed.Add((
                    new MemoryScope(reader.GetString(0), reader.GetString(1)),
                    reader.GetGuid(2),
                    reader.GetString(3),
                    reader.GetFieldValue<DateTimeOffset>(4),
                    reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5)));
            }
        }

        if (claimed.Count == 0)
        {
            await transaction.CommitAsync(cancellationToken);
            return 0;
        }

        var started = Stopwatch.GetTimestamp();
        var generationOptions = settings.Embeddings.Dimensions is { } dimensions ? new EmbeddingGenerationOptions { Dimensions = dimensions } : null;
        var generated = await embeddings.GenerateAsync(claimed.Select(c => c.Text), generationOptions, cancellationToken);
        if (generated.Count != claimed.Count)
        {
            throw new InvalidOperationException($"The embedding generator returned {generated.Count} embeddings for {claimed.Count} texts.");
        }

        var embeddingTime = Stopwatch.GetElapsedTime(started);

        // Scopes in a fixed order, so that two embedders bumping the same scopes never deadlock.
        var scopes = claimed.Select(c => c.Scope).Distinct()
            .OrderBy(s => s.TenantId, StringComparer.Ordinal).ThenBy(s => s.UserId, StringComparer.Ordinal)
            .ToList();
        var records = new Dictionary<MemoryScope, List<VectorRecord>>();
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
                var vector = generated[i].Vector.ToArray();
                VectorMath.Normalize(vector);
                var store = new NpgsqlBatchCommand(StoreEmbeddingSql);
                store.Parameters.Add(new NpgsqlParameter { Value = memory.Scope.TenantId });
                store.Parameters.Add(new NpgsqlParameter { Value = memory.Scope.UserId });
                store.Parameters.Add(new NpgsqlParameter { Value = memory.Id });
                store.Parameters.Add(new NpgsqlParameter { Value = vector });
                batch.BatchCommands.Add(store);
                records[memory.Scope].Add(new VectorRecord(memory.Id, vector, memory.CreatedAt, memory.ExpiresAt));
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
        LogEmbedded(claimed.Count, scopes.Count, embeddingTime.TotalMilliseconds);
        return claimed.Count;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
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
                    while (await EmbedPendingAsync(stoppingToken) == settings.BatchSize)
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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Embedded {Count} pending memories of {Scopes} scopes in one call ({Milliseconds:F0} ms).")]
    private partial void LogEmbedded(int count, int scopes, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Embedding pending memories failed; they stay pending and are claimed again within {Seconds} s.")]
    private partial void LogBatchFailed(double seconds, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Updating the vector index after embedding a batch failed.")]
    private partial void LogIndexFailed(Exception exception);
}
