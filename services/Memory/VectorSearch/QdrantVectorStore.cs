using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Qdrant.Client;
using Qdrant.Client.Grpc;

namespace Agents.Memory.VectorSearch;

/// <summary>
/// Vector search in a Qdrant collection (selected by <c>Memory:VectorStore:Provider=Qdrant</c>).
/// One collection for all tenants; every point carries <c>tenant_id</c> and <c>user_id</c> payload
/// (keyword-indexed) and every search and scope deletion is filtered by both. Point ids are derived
/// from (tenant, user, memory id), so a memory id guessed from another tenant never names a point of theirs.
/// </summary>
public sealed class QdrantVectorStore(QdrantClient client, IOptions<MemoryOptions> options) : IVectorStore, IDisposable
{
    public const string TenantKey = "tenant_id";
    public const string UserKey = "user_id";
    public const string MemoryIdKey = "memory_id";
    public const string CreatedAtKey = "created_at";
    public const string ExpiresAtKey = "expires_at";

    /// <summary>Stored as <c>expires_at</c> for memories that never expire (31 Dec 9999, Unix seconds).</summary>
    public const long NeverExpires = 253_402_300_799;

    private readonly SemaphoreSlim _collectionGate = new(1, 1);
    private volatile bool _collectionReady;

    private string Collection => options.Value.VectorStore.QdrantCollection;

    /// <summary>The point id of a memory: a name-based UUID of (tenant, user, memory id).</summary>
    public static Guid PointId(MemoryScope scope, Guid memoryId)
    {
        var key = Encoding.UTF8.GetBytes($"{scope.TenantId.Length}:{scope.TenantId}|{scope.UserId.Length}:{scope.UserId}|{memoryId:N}");
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(key, hash);
        var bytes = hash[..16];

        // RFC 9562 layout: version 8 (custom), variant 10.
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>The filter every query of <paramref name="scope"/> carries: tenant AND user (AND not expired at <paramref name="now"/>, when given).</summary>
    public static Filter ScopeFilter(MemoryScope scope, DateTimeOffset? now = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(scope.TenantId);
        ArgumentException.ThrowIfNullOrEmpty(scope.UserId);
        var filter = new Filter();
        filter.Must.Add(Conditions.MatchKeyword(TenantKey, scope.TenantId));
        filter.Must.Add(Conditions.MatchKeyword(UserKey, scope.UserId));
        if (now is { } at)
        {
            filter.Must.Add(Conditions.Range(ExpiresAtKey, new Qdrant.Client.Grpc.Range { Gt = at.ToUnixTimeSeconds() }));
        }

        return filter;
    }

    /// <summary>The point stored for <paramref name="record"/>.</summary>
    public static PointStruct ToPoint(MemoryScope scope, VectorRecord record)
    {
        var point = new PointStruct
        {
            Id = PointId(scope, record.MemoryId),
            Vectors = record.Vector,
        };
        point.Payload[TenantKey] = scope.TenantId;
        point.Payload[UserKey] = scope.UserId;
        point.Payload[MemoryIdKey] = record.MemoryId.ToString("D");
        point.Payload[CreatedAtKey] = record.CreatedAt.ToUnixTimeSeconds();
        point.Payload[ExpiresAtKey] = record.ExpiresAt?.ToUnixTimeSeconds() ?? NeverExpires;
        return point;
    }

    public async Task UpsertAsync(MemoryScope scope, IReadOnlyCollection<VectorRecord> records, long scopeVersion, CancellationToken cancellationToken)
    {
        if (records.Count == 0)
        {
            return;
        }

        await EnsureCollectionAsync(records.First().Vector.Length, cancellationToken);
        await client.UpsertAsync(Collection, records.Select(r => ToPoint(scope, r)).ToList(), wait: true, cancellationToken: cancellationToken);
    }

    public async Task DeleteAsync(MemoryScope scope, IReadOnlyCollection<Guid> memoryIds, long scopeVersion, CancellationToken cancellationToken)
    {
        if (memoryIds.Count == 0 || !await CollectionExistsAsync(cancellationToken))
        {
            return;
        }

        await client.DeleteAsync(Collection, memoryIds.Select(id => PointId(scope, id)).ToList(), wait: true, cancellationToken: cancellationToken);
    }

    public async Task DeleteScopeAsync(MemoryScope scope, long scopeVersion, CancellationToken cancellationToken)
    {
        if (!await CollectionExistsAsync(cancellationToken))
        {
            return;
        }

        await client.DeleteAsync(Collection, ScopeFilter(scope), wait: true, cancellationToken: cancellationToken);
    }

    public async Task<IReadOnlyList<VectorHit>> SearchAsync(MemoryScope scope, float[] query, int limit, float minSimilarity, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!await CollectionExistsAsync(cancellationToken))
        {
            return [];
        }

        var points = await client.QueryAsync(
            Collection,
            query: query,
            filter: ScopeFilter(scope, now),
            scoreThreshold: minSimilarity,
            limit: (ulong)limit,
            payloadSelector: true,
            cancellationToken: cancellationToken);
        return MapHits(scope, points);
    }

    /// <summary>Turns scored points into hits, dropping any that do not carry exactly this scope's payload.</summary>
    public static IReadOnlyList<VectorHit> MapHits(MemoryScope scope, IEnumerable<ScoredPoint> points)
    {
        var hits = new List<VectorHit>();
        foreach (var point in points)
        {
            if (point.Payload.TryGetValue(TenantKey, out var tenant) && tenant.StringValue == scope.TenantId
                && point.Payload.TryGetValue(UserKey, out var user) && user.StringValue == scope.UserId
                && point.Payload.TryGetValue(MemoryIdKey, out var id) && Guid.TryParse(id.StringValue, out var memoryId)
                && PointId(scope, memoryId).ToString("D") == point.Id.Uuid)
            {
                hits.Add(new VectorHit(memoryId, point.Score));
            }
        }

        return hits;
    }

    public void Dispose() => _collectionGate.Dispose();

    private async Task<bool> CollectionExistsAsync(CancellationToken cancellationToken) =>
        _collectionReady || await client.CollectionExistsAsync(Collection, cancellationToken);

    private async Task EnsureCollectionAsync(int dimensions, CancellationToken cancellationToken)
    {
        if (_collectionReady)
        {
            return;
        }

        await _collectionGate.WaitAsync(cancellationToken);
        try
        {
            if (!await client.CollectionExistsAsync(Collection, cancellationToken))
            {
                await client.CreateCollectionAsync(
                    Collection,
                    new VectorParams { Size = (ulong)dimensions, Distance = Distance.Cosine },
                    cancellationToken: cancellationToken);
                await client.CreatePayloadIndexAsync(Collection, TenantKey, PayloadSchemaType.Keyword, cancellationToken: cancellationToken);
                await client.CreatePayloadIndexAsync(Collection, UserKey, PayloadSchemaType.Keyword, cancellationToken: cancellationToken);
                await client.CreatePayloadIndexAsync(Collection, ExpiresAtKey, PayloadSchemaType.Integer, cancellationToken: cancellationToken);
            }

            _collectionReady = true;
        }
        finally
        {
            _collectionGate.Release();
        }
    }
}
