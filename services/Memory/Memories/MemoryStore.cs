using System.Diagnostics;
using Agents.Contracts;
using Agents.Memory.Data;
using Agents.Memory.Embeddings;
using Agents.Memory.VectorSearch;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agents.Memory.Memories;

/// <summary>What a caller asks to remember.</summary>
public sealed record NewMemory(
    Guid? Id,
    string Kind,
    string Text,
    string Source,
    TrustLevel Trust,
    Guid? SourceTaskId = null,
    string? SourceStepId = null);

/// <summary>A stored memory as returned to its owner (never its embedding).</summary>
public sealed record MemoryView(
    Guid Id,
    string Kind,
    string Text,
    string Source,
    Guid? SourceTaskId,
    string? SourceStepId,
    TrustLevel Trust,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    bool Stale);

/// <summary>A recalled memory: its cosine similarity to the query and its recency-weighted score.</summary>
public sealed record MemoryHit(MemoryView Memory, double Similarity, double Score);

/// <summary>The hits, how long embedding the query and searching took, and whether the query's embedding was cached.</summary>
public sealed record RecallResult(IReadOnlyList<MemoryHit> Hits, TimeSpan EmbeddingTime, TimeSpan SearchTime, bool QueryCached = false);

/// <summary>
/// Episodic and semantic memories of one tenant and user: stored with their embedding in PostgreSQL
/// (or first without it, embedded later by the <see cref="BackgroundEmbedder"/>), searched through
/// <see cref="IVectorStore"/>. Every method takes the <see cref="MemoryScope"/> from the verified
/// principal and every query filters by it.
/// </summary>
public sealed class MemoryStore(
    MemoryDbContext db,
    NpgsqlDataSource dataSource,
    IVectorStore vectors,
    IEmbeddingGenerator<string, Embedding<float>> embeddings,
    QueryEmbeddingCache queryEmbeddings,
    EmbedderSignal embedderSignal,
    IOptions<MemoryOptions> options,
    TimeProvider time,
    AfterCommit afterCommit)
{
    public static readonly ActivitySource Activity = new("Agents.Memory");

    public async Task<(MemoryView Memory, bool Created)> StoreAsync(MemoryScope scope, NewMemory memory, CancellationToken cancellationToken)
    {
        using var activity = Activity.StartActivity("memory store");
        activity?.SetTag("memory.kind", memory.Kind);
        var id = memory.Id ?? Guid.CreateVersion7(time.GetUtcNow());
        var existing = await db.Memories.AsNoTracking()
            .FirstOrDefaultAsync(m => m.TenantId == scope.TenantId && m.UserId == scope.UserId && m.Id == id, cancellationToken);
        if (existing is not null)
        {
            // A repeated store (redelivered message, retried request): make sure the vector is there too.
            // (A memory still waiting for the background embedder has none yet; the embedder adds it.)
            if (existing.StaleAt is null && existing.Embedding is not null)
            {
                var version = await ReadVersionAsync(scope, cancellationToken);
                await vectors.UpsertAsync(scope, [ToVector(existing)], version, cancellationToken);
            }

            return (ToView(existing), false);
        }

        var vector = await embeddings.EmbedAsync(memory.Text, options.Value.Embeddings.Dimensions, cancellationToken);
        var now = StoredTime.Now(time);
        var record = new MemoryRecord
        {
            TenantId = scope.TenantId,
            UserId = scope.UserId,
            Id = id,
            Kind = memory.Kind,
            Text = memory.Text,
            Source = memory.Source,
            SourceTaskId = memory.SourceTaskId,
            SourceStepId = memory.SourceStepId,
            Trust = memory.Trust,
            CreatedAt = now,
            ExpiresAt = now + TtlOf(memory.Kind),
            Embedding = vector,
        };

        if (db.Database.CurrentTransaction is not null)
        {
            // Inside a consumer's inbox transaction: the row commits with the message's inbox entry, and the
            // vector index learns about it only after that commit. A concurrent duplicate insert fails the
            // transaction; the inbox rolls back and retries, and the retry finds the stored memory.
            db.Memories.Add(record);
            await db.SaveChangesAsync(cancellationToken);
            var version = await BumpVersionAsync(scope, cancellationToken);
            afterCommit.Add(ct => vectors.UpsertAsync(scope, [ToVector(record)], version, ct));
            return (ToView(record), true);
        }

        long newVersion;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            db.Memories.Add(record);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
            {
                // Stored concurrently by another delivery of the same message.
                await transaction.RollbackAsync(cancellationToken);
                db.ChangeTracker.Clear();
                return await StoreAsync(scope, memory with { Id = id }, cancellationToken);
            }

            newVersion = await BumpVersionAsync(scope, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await vectors.UpsertAsync(scope, [ToVector(record)], newVersion, cancellationToken);
        return (ToView(record), true);
    }

    /// <summary>
    /// Stores a memory without computing its embedding: one <c>INSERT … ON CONFLICT DO NOTHING</c> (a memory
    /// with this id in the scope is kept as it is), no model call, no version bump and no index change. The
    /// memory is listed at once and becomes recallable when the <see cref="BackgroundEmbedder"/> has embedded
    /// it (woken right after the commit). Inside a consumer's inbox transaction the row commits with it.
    /// Returns false when the memory existed already.
    /// </summary>
    public async Task<bool> StorePendingAsync(MemoryScope scope, NewMemory memory, CancellationToken cancellationToken)
    {
        var id = memory.Id ?? Guid.CreateVersion7(time.GetUtcNow());
        var now = StoredTime.Now(time);
        var expiresAt = now + TtlOf(memory.Kind);
        var trust = memory.Trust.ToString();
        var inserted = await db.Database.ExecuteSqlAsync(
            $"""
            INSERT INTO memories (tenant_id, user_id, id, kind, text, source, source_task_id, source_step_id, trust, created_at, expires_at)
            VALUES ({scope.TenantId}, {scope.UserId}, {id}, {memory.Kind}, {memory.Text}, {memory.Source}, {memory.SourceTaskId}, {memory.SourceStepId}, {trust}, {now}, {expiresAt})
            ON CONFLICT DO NOTHING
            """,
            cancellationToken);
        if (inserted == 0)
        {
            return false;
        }

        if (db.Database.CurrentTransaction is not null)
        {
            // Woken before the commit, the embedder would not see the row yet.
            afterCommit.Add(_ =>
            {
                embedderSignal.Notify();
                return Task.CompletedTask;
            });
        }
        else
        {
            embedderSignal.Notify();
        }

        return true;
    }

    public async Task<RecallResult> RecallAsync(MemoryScope scope, string query, int top, double? minRelevance, IReadOnlyCollection<string>? kinds, CancellationToken cancellationToken)
    {
        using var activity = Activity.StartActivity("memory recall");
        // Durations are measurements, not logic: the real clock, even under a fake TimeProvider.
        var started = Stopwatch.GetTimestamp();
        var (vector, cached) = await queryEmbeddings.EmbedAsync(query, cancellationToken);
        var embeddingTime = Stopwatch.GetElapsedTime(started);
        started = Stopwatch.GetTimestamp();
        var hits = await RecallByVectorAsync(scope, vector, top, minRelevance, kinds, cancellationToken);
        var searchTime = Stopwatch.GetElapsedTime(started);
        activity?.SetTag("memory.hits", hits.Count);
        activity?.SetTag("memory.embedding_ms", embeddingTime.TotalMilliseconds);
        activity?.SetTag("memory.query_cached", cached);
        activity?.SetTag("memory.search_ms", searchTime.TotalMilliseconds);
        return new RecallResult(hits, embeddingTime, searchTime, cached);
    }

    /// <summary>
    /// Recall for an already embedded query: the vector store returns the most similar candidates
    /// at or above the relevance threshold; they are re-read from PostgreSQL (scope, not stale, not
    /// expired) and ranked by score = similarity * ((1 - w) + w * 0.5^(age / half-life)).
    /// </summary>
    public async Task<IReadOnlyList<MemoryHit>> RecallByVectorAsync(MemoryScope scope, float[] query, int top, double? minRelevance, IReadOnlyCollection<string>? kinds, CancellationToken cancellationToken)
    {
        var settings = options.Value.Recall;
        top = Math.Clamp(top, 1, settings.MaxTop);
        var threshold = (float)(minRelevance ?? settings.MinRelevance);
        var now = StoredTime.Now(time);
        IReadOnlyList<(VectorHit Hit, MemoryView Memory)> candidates;
        if (vectors is IRecallSource combined)
        {
            candidates = await combined.SearchWithRowsAsync(scope, query, top * settings.CandidateFactor, threshold, now, cancellationToken);
        }
        else
        {
            var hits = await vectors.SearchAsync(scope, query, top * settings.CandidateFactor, threshold, now, cancellationToken);
            var rows = hits.Count == 0 ? [] : await MemoryRows.FetchAsync(dataSource, scope, hits.Select(h => h.MemoryId), now, cancellationToken);
            candidates = hits.Where(h => rows.ContainsKey(h.MemoryId)).Select(h => (h, rows[h.MemoryId])).ToList();
        }

        return candidates
            .Where(c => kinds is null || kinds.Count == 0 || kinds.Contains(c.Memory.Kind))
            .Select(c => new MemoryHit(c.Memory, c.Hit.Similarity, Score(c.Hit.Similarity, now - c.Memory.CreatedAt, settings)))
            .OrderByDescending(h => h.Score)
            .Take(top)
            .ToList();
    }

    /// <summary>similarity * ((1 - w) + w * 0.5^(age / half-life)); age below zero counts as zero.</summary>
    public static double Score(double similarity, TimeSpan age, RecallSettings settings)
    {
        var halfLives = Math.Max(0, age.TotalSeconds) / settings.RecencyHalfLife.TotalSeconds;
        return similarity * ((1 - settings.RecencyWeight) + (settings.RecencyWeight * Math.Pow(0.5, halfLives)));
    }

    public async Task<MemoryView?> GetAsync(MemoryScope scope, Guid id, CancellationToken cancellationToken)
    {
        var now = StoredTime.Now(time);
        return await db.Memories.AsNoTracking()
            .Where(m => m.TenantId == scope.TenantId && m.UserId == scope.UserId && m.Id == id && (m.ExpiresAt == null || m.ExpiresAt > now))
            .Select(m => new MemoryView(m.Id, m.Kind, m.Text, m.Source, m.SourceTaskId, m.SourceStepId, m.Trust, m.CreatedAt, m.ExpiresAt, m.StaleAt != null))
            .FirstOrDefaultAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<MemoryView>> ListAsync(MemoryScope scope, string? kind, int limit, int offset, CancellationToken cancellationToken)
    {
        var now = StoredTime.Now(time);
        var query = db.Memories.AsNoTracking()
            .Where(m => m.TenantId == scope.TenantId && m.UserId == scope.UserId && (m.ExpiresAt == null || m.ExpiresAt > now));
        if (kind is not null)
        {
            query = query.Where(m => m.Kind == kind);
        }

        return await query
            .OrderByDescending(m => m.CreatedAt).ThenBy(m => m.Id)
            .Skip(offset).Take(limit)
            .Select(m => new MemoryView(m.Id, m.Kind, m.Text, m.Source, m.SourceTaskId, m.SourceStepId, m.Trust, m.CreatedAt, m.ExpiresAt, m.StaleAt != null))
            .ToListAsync(cancellationToken);
    }

    /// <summary>Deletes one memory of the scope and its vector; false when the scope has no such memory.</summary>
    public async Task<bool> ForgetAsync(MemoryScope scope, Guid id, CancellationToken cancellationToken)
    {
        long version;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            var deleted = await db.Memories
                .Where(m => m.TenantId == scope.TenantId && m.UserId == scope.UserId && m.Id == id)
                .ExecuteDeleteAsync(cancellationToken);
            if (deleted == 0)
            {
                return false;
            }

            version = await BumpVersionAsync(scope, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await vectors.DeleteAsync(scope, [id], version, cancellationToken);
        return true;
    }

    /// <summary>Right to erasure: every memory, vector and short-term message of the user in the tenant.</summary>
    public async Task<int> ForgetUserAsync(MemoryScope scope, CancellationToken cancellationToken)
    {
        int deleted;
        long version;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            deleted = await db.Memories
                .Where(m => m.TenantId == scope.TenantId && m.UserId == scope.UserId)
                .ExecuteDeleteAsync(cancellationToken);
            deleted += await db.ShortTermMessages
                .Where(m => m.TenantId == scope.TenantId && m.UserId == scope.UserId)
                .ExecuteDeleteAsync(cancellationToken);
            version = await BumpVersionAsync(scope, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await vectors.DeleteScopeAsync(scope, version, cancellationToken);
        return deleted;
    }

    /// <summary>
    /// Marks the memories from <paramref name="source"/> stale, of one user or (<paramref name="userId"/> null)
    /// of the whole tenant: they stay listed (flagged) but are never recalled again; their vectors leave the index.
    /// </summary>
    public async Task<int> MarkSourceStaleAsync(string tenantId, string? userId, string source, CancellationToken cancellationToken)
    {
        var now = StoredTime.Now(time);
        var changes = new List<(MemoryScope Scope, List<Guid> Ids, long Version)>();
        var inboxTransaction = db.Database.CurrentTransaction is not null;
        await using (var transaction = inboxTransaction ? null : await db.Database.BeginTransactionAsync(cancellationToken))
        {
            var query = db.Memories.Where(m => m.TenantId == tenantId && m.Source == source && m.StaleAt == null);
            if (userId is not null)
            {
                query = query.Where(m => m.UserId == userId);
            }

            var affected = await query
                .Select(m => new { m.UserId, m.Id })
                .ToListAsync(cancellationToken);
            if (affected.Count == 0)
            {
                return 0;
            }

            await query
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.StaleAt, now), cancellationToken);
            foreach (var group in affected.GroupBy(a => a.UserId, StringComparer.Ordinal))
            {
                var scope = new MemoryScope(tenantId, group.Key);
                changes.Add((scope, group.Select(a => a.Id).ToList(), await BumpVersionAsync(scope, cancellationToken)));
            }

            if (transaction is not null)
            {
                await transaction.CommitAsync(cancellationToken);
            }
        }

        foreach (var (scope, ids, version) in changes)
        {
            if (inboxTransaction)
            {
                // Inside a consumer's inbox transaction: the index learns about it once that commits.
                afterCommit.Add(ct => vectors.DeleteAsync(scope, ids, version, ct));
            }
            else
            {
                await vectors.DeleteAsync(scope, ids, version, cancellationToken);
            }
        }

        return changes.Sum(c => c.Ids.Count);
    }

    /// <summary>Deletes memories and short-term messages whose time to live has passed; returns how many.</summary>
    public async Task<int> DeleteExpiredAsync(int batchSize, CancellationToken cancellationToken)
    {
        var now = StoredTime.Now(time);
        var total = 0;
        while (true)
        {
            var changes = new List<(MemoryScope Scope, List<Guid> Ids, long Version)>();
            await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
            {
                var expired = await db.Memories
                    .Where(m => m.ExpiresAt != null && m.ExpiresAt <= now)
                    .OrderBy(m => m.ExpiresAt)
                    .Take(batchSize)
                    .Select(m => new { m.TenantId, m.UserId, m.Id })
                    .ToListAsync(cancellationToken);
                if (expired.Count == 0)
                {
                    break;
                }

                foreach (var group in expired.GroupBy(e => new MemoryScope(e.TenantId, e.UserId)))
                {
                    var ids = group.Select(e => e.Id).ToList();
                    await db.Memories
                        .Where(m => m.TenantId == group.Key.TenantId && m.UserId == group.Key.UserId && ids.Contains(m.Id))
                        .ExecuteDeleteAsync(cancellationToken);
                    changes.Add((group.Key, ids, await BumpVersionAsync(group.Key, cancellationToken)));
                }

                await transaction.CommitAsync(cancellationToken);
            }

            foreach (var (scope, ids, version) in changes)
            {
                await vectors.DeleteAsync(scope, ids, version, cancellationToken);
            }

            total += changes.Sum(c => c.Ids.Count);
        }

        total += await db.ShortTermMessages.Where(m => m.ExpiresAt != null && m.ExpiresAt <= now).ExecuteDeleteAsync(cancellationToken);
        return total;
    }

    private TimeSpan? TtlOf(string kind) => kind switch
    {
        MemoryKinds.Episodic => options.Value.Ttl.Episodic,
        _ => options.Value.Ttl.Semantic,
    };

    private async Task<long> BumpVersionAsync(MemoryScope scope, CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO memory_scopes (tenant_id, user_id, version) VALUES ($1, $2, 1)
            ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = memory_scopes.version + 1
            RETURNING version
            """,
            connection,
            (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction());
        command.Parameters.Add(new NpgsqlParameter { Value = scope.TenantId });
        command.Parameters.Add(new NpgsqlParameter { Value = scope.UserId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private async Task<long> ReadVersionAsync(MemoryScope scope, CancellationToken cancellationToken) =>
        await db.ScopeVersions.AsNoTracking()
            .Where(s => s.TenantId == scope.TenantId && s.UserId == scope.UserId)
            .Select(s => s.Version)
            .FirstOrDefaultAsync(cancellationToken);

    private static VectorRecord ToVector(MemoryRecord record) =>
        new(record.Id, record.Embedding ?? throw new InvalidOperationException($"Memory {record.Id} has no embedding yet."), record.CreatedAt, record.ExpiresAt);

    private static MemoryView ToView(MemoryRecord m) =>
        new(m.Id, m.Kind, m.Text, m.Source, m.SourceTaskId, m.SourceStepId, m.Trust, m.CreatedAt, m.ExpiresAt, m.StaleAt != null);
}
