namespace Agents.Memory.VectorSearch;

/// <summary>The tenant and user every memory belongs to; no read or write happens without one.</summary>
public readonly record struct MemoryScope(string TenantId, string UserId);

/// <summary>A unit-length vector of one memory, with what recall needs to filter and weigh it.</summary>
public sealed record VectorRecord(Guid MemoryId, float[] Vector, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt);

/// <summary>A memory whose vector is close to the query; <see cref="Similarity"/> is the cosine similarity.</summary>
public readonly record struct VectorHit(Guid MemoryId, float Similarity);

/// <summary>
/// Nearest-neighbour search over the vectors of one tenant and user. Implementations must restrict
/// every operation to <see cref="MemoryScope"/> before any vector is scored or touched.
/// </summary>
/// <remarks>
/// <c>scopeVersion</c> is the scope's version after the database change that caused the call
/// (see <c>memory_scopes</c>); caches use it to apply the change in place or to drop stale state.
/// </remarks>
public interface IVectorStore
{
    /// <summary>Adds or replaces the vectors of <paramref name="records"/>, all changed by the one database change that made <paramref name="scopeVersion"/>.</summary>
    Task UpsertAsync(MemoryScope scope, IReadOnlyCollection<VectorRecord> records, long scopeVersion, CancellationToken cancellationToken);

    Task DeleteAsync(MemoryScope scope, IReadOnlyCollection<Guid> memoryIds, long scopeVersion, CancellationToken cancellationToken);

    /// <summary>Removes every vector of the scope (right to erasure).</summary>
    Task DeleteScopeAsync(MemoryScope scope, long scopeVersion, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="limit"/> hits with similarity at least <paramref name="minSimilarity"/>, best first; expired vectors are skipped.</summary>
    Task<IReadOnlyList<VectorHit>> SearchAsync(MemoryScope scope, float[] query, int limit, float minSimilarity, DateTimeOffset now, CancellationToken cancellationToken);
}
