using System.Numerics.Tensors;

namespace Agents.Memory.VectorSearch;

/// <summary>
/// The vectors of one tenant and user in contiguous arrays. A search is two passes: a SIMD scan of
/// int8-quantized codes (<see cref="Int8Dot"/>, a quarter of the memory traffic of floats) keeps the
/// best <c>limit + 64</c> candidates, which are then re-scored exactly with float dot products
/// (<see cref="TensorPrimitives.Dot(ReadOnlySpan{float}, ReadOnlySpan{float})"/>). Only vectors of
/// this scope are ever scored. Readers share a lock; writers (append, swap-remove) take it exclusively.
/// </summary>
internal sealed class ScopeIndex : IDisposable
{
    /// <summary>Extra candidates re-scored exactly beyond the requested limit.</summary>
    private const int RescoreMargin = 64;

    /// <summary>Bound on how far int8 quantization can move a cosine similarity of unit vectors (measured error is below 0.01).</summary>
    private const float QuantizationSlack = 0.05f;

    private readonly ReaderWriterLockSlim _lock = new();
    private readonly Dictionary<Guid, int> _positions = [];
    private float[] _vectors;
    private byte[] _codes;
    private float[] _scales;
    private Guid[] _ids;
    private long[] _expires;
    private int _count;

    public ScopeIndex(int dimensions, long version, int capacity = 16)
    {
        Dimensions = dimensions;
        Version = version;
        capacity = Math.Max(capacity, 16);
        _vectors = new float[capacity * dimensions];
        _codes = new byte[capacity * dimensions];
        _scales = new float[capacity];
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
            _codes.AsSpan(last * Dimensions, Dimensions).CopyTo(_codes.AsSpan(position * Dimensions, Dimensions));
            _scales[position] = _scales[last];
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

        var quantized = new Int8Dot.Query(query);
        var queryScale = quantized.Scale;
        var candidates = limit + RescoreMargin;

        // Quantization moves a similarity by far less than this; anything further below the threshold cannot reach it.
        var approximateThreshold = minSimilarity - QuantizationSlack;

        _lock.EnterReadLock();
        try
        {
            // Pass 1: int8 scan; min-heap of the best candidates (root = weakest kept).
            var best = new PriorityQueue<int, float>(candidates + 1);
            var codes = _codes;
            for (var i = 0; i < _count; i++)
            {
                if (_expires[i] <= nowTicks)
                {
                    continue;
                }

                var approximate = Int8Dot.Dot(codes.AsSpan(i * Dimensions, Dimensions), quantized) * _scales[i] * queryScale;
                if (approximate < approximateThreshold)
                {
                    continue;
                }

                if (best.Count < candidates)
                {
                    best.Enqueue(i, approximate);
                }
                else if (best.TryPeek(out _, out var weakest) && approximate > weakest)
                {
                    best.EnqueueDequeue(i, approximate);
                }
            }

            // Pass 2: exact float similarity for the candidates.
            var exact = new List<VectorHit>(best.Count);
            while (best.TryDequeue(out var position, out _))
            {
                var similarity = TensorPrimitives.Dot(_vectors.AsSpan(position * Dimensions, Dimensions), query);
                if (similarity >= minSimilarity)
                {
                    exact.Add(new VectorHit(_ids[position], similarity));
                }
            }

            exact.Sort((a, b) => b.Similarity.CompareTo(a.Similarity));
            return exact.Count > limit ? exact.GetRange(0, limit) : exact;
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
            Array.Resize(ref _codes, capacity * Dimensions);
            Array.Resize(ref _scales, capacity);
            Array.Resize(ref _ids, capacity);
            Array.Resize(ref _expires, capacity);
        }

        record.Vector.CopyTo(_vectors.AsSpan(_count * Dimensions, Dimensions));
        _scales[_count] = Int8Dot.QuantizeStored(record.Vector, _codes.AsSpan(_count * Dimensions, Dimensions));
        _ids[_count] = record.MemoryId;
        _expires[_count] = record.ExpiresAt?.UtcTicks ?? long.MaxValue;
        _positions[record.MemoryId] = _count;
        _count++;
    }
}
