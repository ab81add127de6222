using System.Numerics.Tensors;

namespace Agents.Memory.VectorSearch;

/// <summary>
/// The vectors of one tenant and user in one contiguous array, scanned with SIMD dot products
/// (<see cref="TensorPrimitives.Dot(ReadOnlySpan{float}, ReadOnlySpan{float})"/>). Exact search:
/// at 100k x 384 floats a scan is a few milliseconds, so no approximate structure is needed.
/// Readers share a lock; writers (append, swap-remove) take it exclusively.
/// </summary>
internal sealed class ScopeIndex : IDisposable
{
    private readonly ReaderWriterLockSlim _lock = new();
    private readonly Dictionary<Guid, int> _positions = [];
    private float[] _vectors;
    private Guid[] _ids;
    private long[] _expires;
    private int _count;

    public ScopeIndex(int dimensions, long version, int capacity = 16)
    {
        Dimensions = dimensions;
        Version = version;
        capacity = Math.Max(capacity, 16);
        _vectors = new float[capacity * dimensions];
        _ids = new Guid[capacity];
        _expires = new long[capacity];
    }

    public int Dimensions { get; }

    /// <summary>The scope version this index reflects.</summary>
    public long Version { get; private set; }

    public int Count => _count;

    public long LastAccessTicks { get; set; }

    /// <summary>Adds a record while loading (no version change).</summary>
    public void Load(VectorRecord record) => AddCore(record);

    /// <summary>
    /// Applies a change made at <paramref name="newVersion"/> when this index is exactly one version
    /// behind; otherwise returns false (another change happened in between, the index must be reloaded).
    /// </summary>
    public bool TryApply(long newVersion, Action<ScopeIndex> change)
    {
        _lock.EnterWriteLock();
        try
        {
            if (Version >= newVersion)
            {
                // Loaded after the change committed: it is already in.
                return true;
            }

            if (Version != newVersion - 1)
            {
                return false;
            }

            change(this);
            Version = newVersion;
            return true;
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>Only inside <see cref="TryApply"/>.</summary>
    public void Upsert(VectorRecord record)
    {
        Remove(record.MemoryId);
        AddCore(record);
    }

    /// <summary>Only inside <see cref="TryApply"/>.</summary>
    public void Remove(Guid id)
    {
        if (!_positions.Remove(id, out var position))
        {
            return;
        }

        var last = _count - 1;
        if (position != last)
        {
            // Swap-remove: move the last vector into the hole.
            _vectors.AsSpan(last * Dimensions, Dimensions).CopyTo(_vectors.AsSpan(position * Dimensions, Dimensions));
            _ids[position] = _ids[last];
            _expires[position] = _expires[last];
            _positions[_ids[position]] = position;
        }

        _count = last;
    }

    public bool Contains(Guid id)
    {
        _lock.EnterReadLock();
        try
        {
            return _positions.ContainsKey(id);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public IReadOnlyList<VectorHit> Search(ReadOnlySpan<float> query, int limit, float minSimilarity, long nowTicks)
    {
        if (query.Length != Dimensions || limit <= 0)
        {
            return [];
        }

        // Min-heap of the best hits so far: the root is the weakest one kept.
        var best = new PriorityQueue<int, float>(limit + 1);
        _lock.EnterReadLock();
        try
        {
            var vectors = _vectors;
            for (var i = 0; i < _count; i++)
            {
                if (_expires[i] <= nowTicks)
                {
                    continue;
                }

                var similarity = TensorPrimitives.Dot(vectors.AsSpan(i * Dimensions, Dimensions), query);
                if (similarity < minSimilarity)
                {
                    continue;
                }

                if (best.Count < limit)
                {
                    best.Enqueue(i, similarity);
                }
                else if (best.TryPeek(out _, out var weakest) && similarity > weakest)
                {
                    best.EnqueueDequeue(i, similarity);
                }
            }

            var hits = new VectorHit[best.Count];
            for (var n = hits.Length - 1; n >= 0; n--)
            {
                best.TryDequeue(out var position, out var similarity);
                hits[n] = new VectorHit(_ids[position], similarity);
            }

            return hits;
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public void Dispose() => _lock.Dispose();

    private void AddCore(VectorRecord record)
    {
        if (record.Vector.Length != Dimensions)
        {
            throw new ArgumentException($"The vector has {record.Vector.Length} dimensions; this index holds {Dimensions}.", nameof(record));
        }

        if (_count == _ids.Length)
        {
            var capacity = _ids.Length * 2;
            Array.Resize(ref _vectors, capacity * Dimensions);
            Array.Resize(ref _ids, capacity);
            Array.Resize(ref _expires, capacity);
        }

        record.Vector.CopyTo(_vectors.AsSpan(_count * Dimensions, Dimensions));
        _ids[_count] = record.MemoryId;
        _expires[_count] = record.ExpiresAt?.UtcTicks ?? long.MaxValue;
        _positions[record.MemoryId] = _count;
        _count++;
    }
}
