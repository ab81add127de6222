using Agents.Contracts;
using Agents.Memory.Memories;

namespace Agents.Memory.Api;

/// <summary>Body of <c>POST /api/memories</c>: a fact (semantic, the default) or an episode, with its provenance.</summary>
public sealed record StoreMemoryRequest(
    string? Text,
    string? Source,
    TrustLevel? Trust,
    string? Kind,
    Guid? Id,
    Guid? SourceTaskId,
    string? SourceStepId);

/// <summary>Body of <c>POST /api/memories/recall</c>.</summary>
public sealed record RecallRequest(string? Query, int? Top, double? MinRelevance, IReadOnlyList<string>? Kinds);

/// <summary>Answer of <c>POST /api/memories/recall</c>; the times separate embedding the query from searching.</summary>
public sealed record RecallResponse(IReadOnlyList<MemoryHit> Hits, double EmbeddingMilliseconds, double SearchMilliseconds);

/// <summary>Body of <c>POST /api/memories/sources/stale</c>.</summary>
public sealed record MarkSourceStaleRequest(string? Source);

/// <summary>Answer of <c>POST /api/memories/sources/stale</c>.</summary>
public sealed record MarkSourceStaleResponse(string Source, int MarkedStale, string Scope);

/// <summary>Answer of the forget-by-user endpoint.</summary>
public sealed record ForgetUserResponse(string UserId, int Deleted);

/// <summary>Body of <c>POST /api/memories/sessions/{sessionId}/messages</c>.</summary>
public sealed record AppendMessageRequest(string? Role, string? Content);

/// <summary>Body of <c>PUT /api/memories/procedures/{agent}/{name}</c>.</summary>
public sealed record PutProcedureRequest(string? Content, int? ExpectedVersion);
