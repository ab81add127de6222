namespace Agents.Contracts;

/// <summary>Whether content may be followed as instructions. Outside content never is.</summary>
public enum TrustLevel
{
    /// <summary>From the tenant's own people or policies.</summary>
    Trusted,

    /// <summary>From outside (web pages, tickets, tool outputs): data only.</summary>
    Untrusted,
}

/// <summary>A memory returned by recall, with where it came from and how far to trust it.</summary>
public sealed record RecalledMemory(Guid MemoryId, string Kind, string Text, double Score, string Source, TrustLevel Trust, DateTimeOffset CreatedAt);

/// <summary>Request (request/response) for the memories relevant to a query, scoped to the principal's tenant and user.</summary>
public sealed record RecallMemories(Guid TaskId, AgentPrincipal Principal, string Query, int Top = 5);

/// <summary>Response to <see cref="RecallMemories"/>.</summary>
public sealed record MemoriesRecalled(Guid TaskId, IReadOnlyList<RecalledMemory> Memories);

/// <summary>Stores a semantic fact with its provenance.</summary>
public sealed record RememberFact(Guid FactId, AgentPrincipal Principal, string Text, string Source, TrustLevel Trust, Guid? SourceTaskId = null, string? SourceStepId = null);

/// <summary>
/// Marks the memories that came from <see cref="Source"/> (a URL, tool or task) stale, for one user
/// (<see cref="UserId"/>) or the whole tenant (null): they stay listed, flagged, and are never recalled again.
/// For a tool or service that learns its content changed, e.g. a page that was edited since it was remembered.
/// </summary>
public sealed record MarkSourceStale(string TenantId, string? UserId, string Source);
