using System.Collections.Concurrent;
using System.Data;
using System.Diagnostics;
using Agents.Memory.Memories;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.Memory.VectorSearch;

/// <summary>
/// Vector search with PostgreSQL as the only store (no extension): embeddings live in
/// <c>memories.embedding</c> (<c>real[]</c>); searches run against an in-memory <see cref="ScopeIndex"/>
/// per tenant and user, loaded from PostgreSQL on first use.
/// <para>
/// Consistency across replicas: every change of a scope's memories bumps <c>memory_scopes.version</c>
/// in the same transaction. Each search reads that version first (one primary-key lookup) and
/// reloads the scope when its cached index is behind, so a replica never answers from a stale index.
/// The replica that made a change applies it in place when its index was exactly one version behind.
/// </para>
/// </summary>
public sealed class PostgresVectorStore(
    NpgsqlDataSource dataSource,
    IOptions<MemoryOptions> options,
    ILogger<PostgresVectorStore> logger) : IVectorStore, IRecallSource, IDisposable
{
    private readonly ConcurrentDictionary<MemoryScope, Entry> _scopes = new();

    /// <summary>Vectors currently held in memory, over all scopes.</summary>
    public long CachedVectors => _scopes.Values.Sum(e => (long)(e.Index?.Count ?? 0));

    /// <summary>Whether <paramref name="memoryId"/> is in the cached index of <paramref name="scope"/> (for diagnostics and tests).</summary>
    public bool IsCached(MemoryScope scope, Guid memoryId) =>
        _scopes.TryGetValue(scope, out var entry) && entry.Index?.Contains(memoryId) == true;

    public Task UpsertAsync(MemoryScope scope, IReadOnlyCollection<VectorRecord> records, long scopeVersion, CancellationToken cancellationToken)
    {
        Apply(scope, scopeVersion, index =>
        {
            foreach (var record in records)
            {
                index.Upsert(record);
            }
        });
        return Task.CompletedTask;
    }

    public Task DeleteAsync(MemoryScope scope, IReadOnlyCollection<Guid> memoryIds, long scopeVersion, CancellationToken cancellationToken)
    {
        Apply(scope, scopeVersion, index =>
        {
            foreach (var id in memoryIds)
            {
                index.Remove(id);
            }
        });
        return Task.CompletedTask;
    }

    public Task DeleteScopeAsync(MemoryScope scope, long scopeVersion, CancellationToken cancellationToken)
    {
        // The rows are gone; drop the whole cached index (its vectors with it). Not disposed: a
        // search may still be reading it; the garbage collector takes it afterwards.
        _scopes.TryRemove(scope, out _);
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<VectorHit>> SearchAsync(MemoryScope scope, float[] query, int limit, float minSimilarity, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var result = await SearchValidatedAsync(scope, query, limit, minSimilarity, now, withRows: false, cancellationToken);
        return result.Hits;
    }

    public async Task<IReadOnlyList<(VectorHit Hit, MemoryView Memory)>> SearchWithRowsAsync(
        MemoryScope scope, float[] query, int limit, float minSimilarity, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (hits, rows) = await SearchValidatedAsync(scope, query, limit, minSimilarity, now, withRows: true, cancellationToken);
        return hits.Where(h => rows.ContainsKey(h.MemoryId)).Select(h => (h, rows[h.MemoryId])).ToList();
    }

    public void Dispose()
    {
        foreach (var entry in _scopes.Values)
        {
            entry.Index?.Dispose();
            entry.LoadGate.Dispose();
        }
    }

    /// <summary>
    /// Searches the cached index, then in ONE round trip reads the scope's current version (and the
    /// candidates' rows). If the version moved past the index, another replica changed the scope:
    /// reload and search again. Steady state costs one round trip, and never answers from a stale index.
    /// </summary>
    private async Task<(IReadOnlyList<VectorHit> Hits, Dictionary<Guid, MemoryView> Rows)> SearchValidatedAsync(
        MemoryScope scope, float[] query, int limit, float minSimilarity, DateTimeOffset now, bool withRows, CancellationToken cancellationToken)
    {
        var entry = _scopes.GetOrAdd(scope, _ => new Entry());
        for (var attempt = 0; ; attempt++)
        {
            var index = entry.Index ?? await LoadAsync(scope, entry, null, query.Length, cancellationToken);
            index.LastAccessTicks = Stopwatch.GetTimestamp();
            var hits = index.Search(query, limit, minSimilarity, now.UtcTicks);

            await using var batch = dataSource.CreateBatch();
            var version = new NpgsqlBatchCommand("SELECT version FROM memory_scopes WHERE tenant_id = $1 AND user_id = $2");
            version.Parameters.Add(new NpgsqlParameter { Value = scope.TenantId });
            version.Parameters.Add(new NpgsqlParameter { Value = scope.UserId });
            batch.BatchCommands.Add(version);
            if (withRows && hits.Count > 0)
            {
                batch.BatchCommands.Add(MemoryRows.Command(scope, hits.Select(h => h.MemoryId), now));
            }

            await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
            var current = await reader.ReadAsync(cancellationToken) ? reader.GetInt64(0) : 0;
            if (current > index.Version && attempt < 3)
            {
                await reader.DisposeAsync();
                await LoadAsync(scope, entry, index, query.Length, cancellationToken);
                continue;
            }

            var rows = withRows && hits.Count > 0 && await reader.NextResultAsync(cancellationToken)
                ? await MemoryRows.ReadAsync(reader, cancellationToken)
                : [];
            return (hits, rows);
        }
    }

    private void Apply(MemoryScope scope, long scopeVersion, Action<ScopeIndex> change)
    {
        if (_scopes.TryGetValue(scope, out var entry) && entry.Index is { } index && !index.TryApply(scopeVersion, change))
        {
            // Someone else changed the scope in between: the next search reloads it.
            entry.Index = null;
        }
    }

    /// <summary>Loads the scope's index from PostgreSQL, unless another caller already replaced <paramref name="stale"/> meanwhile.</summary>
    private async Task<ScopeIndex> LoadAsync(MemoryScope scope, Entry entry, ScopeIndex? stale, int dimensions, CancellationToken cancellationToken)
    {
        await entry.LoadGate.WaitAsync(cancellationToken);
        try
        {
            if (entry.Index is { } current && !ReferenceEquals(current, stale))
            {
                return current;
            }

            var started = Stopwatch.GetTimestamp();
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);

            // One snapshot for the version and the rows, so the index is exactly that version.
            await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
            long version;
            await using (var versionCommand = new NpgsqlCommand("SELECT version FROM memory_scopes WHERE tenant_id = $1 AND user_id = $2", connection, transaction))
            {
                versionCommand.Parameters.Add(new NpgsqlParameter { Value = scope.TenantId });
                versionCommand.Parameters.Add(new NpgsqlParameter { Value = scope.UserId });
                version = await versionCommand.ExecuteScalarAsync(cancellationToken) is long v ? v : 0;
            }

            long count;
            await using (var countCommand = new NpgsqlCommand("SELECT count(*) FROM memories WHERE tenant_id = $1 AND user_id = $2 AND stale_at IS NULL AND embedding IS NOT NULL", connection, transaction))
            {
                countCommand.Parameters.Add(new NpgsqlParameter { Value = scope.TenantId });
                countCommand.Parameters.Add(new NpgsqlParameter { Value = scope.UserId });
                count = (long)(await countCommand.ExecuteScalarAsync(cancellationToken))!;
            }

            var index = new ScopeIndex(dimensions, version, (int)Math.Min(count, int.MaxValue / dimensions));
            var skipped = 0;
            await using (var command = new NpgsqlCommand(
                // Memories still waiting for the background embedder have no vector yet: not searchable until it commits one.
                "SELECT id, created_at, expires_at, embedding FROM memories WHERE tenant_id = $1 AND user_id = $2 AND stale_at IS NULL AND embedding IS NOT NULL",
                connection,
                transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = scope.TenantId });
                command.Parameters.Add(new NpgsqlParameter { Value = scope.UserId });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    var vector = reader.GetFieldValue<float[]>(3);
                    if (vector.Length != dimensions)
                    {
                        // Embedded by another model than the current one: not comparable.
                        skipped++;
                        continue;
                    }

                    index.Load(new VectorRecord(
                        reader.GetGuid(0),
                        vector,
                        reader.GetFieldValue<DateTimeOffset>(1),
                        reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2)));
                }
            }

            await transaction.CommitAsync(cancellationToken);
            entry.Index = index;
            logger.LogDebug(
                "Loaded {Count} vectors of tenant {TenantId} at version {Version} in {Elapsed} ms ({Skipped} of another dimension skipped).",
                index.Count,
                scope.TenantId,
                version,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                skipped);
            EvictIfNeeded(scope);
            return index;
        }
        finally
        {
            entry.LoadGate.Release();
        }
    }

    private void EvictIfNeeded(MemoryScope keep)
    {
        var limit = options.Value.VectorStore.MaxCachedVectors;
        if (CachedVectors <= limit)
        {
            return;
        }

        foreach (var (scope, _) in _scopes.Where(p => p.Value.Index is not null && p.Key != keep).OrderBy(p => p.Value.Index!.LastAccessTicks).ToList())
        {
            if (CachedVectors <= limit)
            {
                break;
            }

            _scopes.TryRemove(scope, out _);
        }
    }

    private sealed class Entry
    {
        public SemaphoreSlim LoadGate { get; } = new(1, 1);

        public volatile ScopeIndex? Index;
    }
}
