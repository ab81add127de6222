using Agents.Contracts;

namespace Agents.Memory.Data;

/// <summary>Names of the memory types that are stored as searchable memories.</summary>
public static class MemoryKinds
{
    public const string Episodic = "episodic";
    public const string Semantic = "semantic";

    public static bool IsKnown(string kind) => kind is Episodic or Semantic;
}

/// <summary>An episodic or semantic memory of one user in one tenant, with its embedding and provenance.</summary>
public sealed class MemoryRecord
{
    public required string TenantId { get; set; }

    public required string UserId { get; set; }

    public Guid Id { get; set; }

    public required string Kind { get; set; }

    public required string Text { get; set; }

    /// <summary>Where the memory came from: a URL, "task:{id}", "user", a tool name.</summary>
    public required string Source { get; set; }

    public Guid? SourceTaskId { get; set; }

    public string? SourceStepId { get; set; }

    public TrustLevel Trust { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>Set when the source was marked stale; stale memories are never recalled.</summary>
    public DateTimeOffset? StaleAt { get; set; }

    /// <summary>
    /// Unit-length embedding (stored as <c>real[]</c>); the durable copy the vector index is built from.
    /// Null while the memory waits for the background embedder (episodes are stored without one).
    /// </summary>
    public float[]? Embedding { get; set; }

    /// <summary>The background embedder run that holds this pending memory (with <see cref="EmbeddingClaimedUntil"/>).</summary>
    public Guid? EmbeddingClaim { get; set; }

    /// <summary>Until when <see cref="EmbeddingClaim"/> holds; afterwards another embedder may claim the memory again.</summary>
    public DateTimeOffset? EmbeddingClaimedUntil { get; set; }
}

/// <summary>Per tenant and user: a version bumped by every change of that user's searchable memories (cache validation across replicas).</summary>
public sealed class MemoryScopeVersion
{
    public required string TenantId { get; set; }

    public required string UserId { get; set; }

    public long Version { get; set; }
}

/// <summary>One message of a session's short-term conversation buffer (or the running summary of older messages).</summary>
public sealed class ShortTermMessage
{
    public long Id { get; set; }

    public required string TenantId { get; set; }

    public required string UserId { get; set; }

    public required string SessionId { get; set; }

    public required string Role { get; set; }

    public required string Content { get; set; }

    public int Tokens { get; set; }

    public bool IsSummary { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }
}

/// <summary>One version of an instruction, preference or policy for an agent in a tenant.</summary>
public sealed class ProcedureVersion
{
    public required string TenantId { get; set; }

    public required string Agent { get; set; }

    public required string Name { get; set; }

    public int Version { get; set; }

    public required string Content { get; set; }

    public required string CreatedBy { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}
