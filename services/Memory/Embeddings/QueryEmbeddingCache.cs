using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agents.Memory.Embeddings;

/// <summary>
/// Embeddings of recall queries, least recently used evicted beyond <c>Memory:Recall:QueryCacheSize</c>,
/// keyed by the normalized query text (<see cref="Normalize"/>). Agents of one template ask the same
/// questions again and again; a repeated query costs a dictionary lookup instead of a model call.
/// The cached vectors are shared between callers and must not be changed.
/// </summary>
public sealed class QueryEmbeddingCache(IEmbeddingGenerator<string, Embedding<float>> embeddings, IOptions<MemoryOptions> options)
{
    private readonly Dictionary<string, LinkedListNode<(string Key, float[] Vector)>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Key, float[] Vector)> _recency = new();
    private readonly Lock _gate = new();
    private long _hits;
    private long _misses;

    /// <summary>Queries answered from the cache since start.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Queries that had to be embedded since start.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Trimmed, inner runs of white space as one space: spellings of the same text that differ only in
    /// white space are one key (and the normalized text is what gets embedded, so the key and the vector
    /// always agree). Case is kept: it is the model's business (MiniLM ignores it, other models may not).
    /// </summary>
    public static string Normalize(string query)
    {
        var text = new StringBuilder(query.Length);
        var pendingSpace = false;
        foreach (var c in query.AsSpan().Trim())
        {
            if (char.IsWhiteSpace(c))
            {
                pendingSpace = true;
                continue;
            }

            if (pendingSpace)
            {
                text.Append(' ');
                pendingSpace = false;
            }

            text.Append(c);
        }

        return text.ToString();
    }

    /// <summary>The unit-length embedding of <paramref name="query"/>, and whether it came from the cache.</summary>
    public async Task<(float[] Vector, bool Cached)> EmbedAsync(string query, CancellationToken cancellationToken)
    {
        var key = Normalize(query);
        var capacity = options.Value.Recall.QueryCacheSize;
        if (capacity > 0)
        {
            lock (_gate)
            {
                if (_entries.TryGetValue(key, out var node))
                {
                    _recency.Remove(node);
                    _recency.AddFirst(node);
                    Interlocked.Increment(ref _hits);
                    return (node.Value.Vector, true);
                }
            }
        }

        Interlocked.Increment(ref _misses);
        var vector = await embeddings.EmbedAsync(key, options.Value.Embeddings.Dimensions, cancellationToken);
        if (capacity > 0)
        {
            lock (_gate)
            {
                if (!_entries.ContainsKey(key))
                {
                    _entries[key] = _recency.AddFirst((key, vector));
                    while (_entries.Count > capacity)
                    {
                        var oldest = _recency.Last!;
                        _recency.RemoveLast();
                        _entries.Remove(oldest.Value.Key);
                    }
                }
            }
        }

        return (vector, false);
    }
}
