namespace Agents.Contracts;

/// <summary>Asks governance whether a task may start, and with which effective limits.</summary>
public sealed record AdmitTask(Guid TaskId, AgentPrincipal Principal, string? Goal, TaskLimits? RequestedLimits, IReadOnlyList<string>? RequestedTools);

/// <summary>The task may start within <see cref="Limits"/>, using at most <see cref="AllowedTools"/> (null: whatever policy allows).</summary>
public sealed record TaskAdmitted(Guid TaskId, TaskLimits Limits, IReadOnlyList<string>? AllowedTools);

/// <summary>The task may not start; <see cref="Reason"/> says why, for a person.</summary>
public sealed record TaskRejected(Guid TaskId, string Reason);

/// <summary>What governance decided about one tool call.</summary>
public enum AuthorizationDecision
{
    /// <summary>Go ahead.</summary>
    Allow,

    /// <summary>Refused; never executed.</summary>
    Deny,

    /// <summary>A person must approve these exact arguments first.</summary>
    RequireApproval,
}

/// <summary>
/// Asks governance (request/response) whether a principal may make a tool call now. Re-checked on
/// every call and retry. <see cref="ArgumentsHash"/> binds an approval to the exact arguments.
/// </summary>
public sealed record AuthorizeToolCall(
    Guid TaskId,
    string StepId,
    AgentPrincipal Principal,
    string Tool,
    SideEffectClass SideEffect,
    RiskTier Risk,
    string RequiredScope,
    string ArgumentsJson,
    string ArgumentsHash,
    bool ArgumentsTainted,
    IReadOnlyList<string>? TaskAllowedTools,
    Guid? ApprovalId);

/// <summary>Governance's answer to <see cref="AuthorizeToolCall"/>.</summary>
public sealed record ToolCallAuthorization(AuthorizationDecision Decision, string Reason, Guid? ApprovalId = null);

/// <summary>A person approved or rejected a pending tool call (or it expired).</summary>
public sealed record ApprovalDecided(Guid ApprovalId, Guid TaskId, string StepId, bool Approved, string DecidedBy, string? Comment, bool Expired);

/// <summary>Usage to add to the ledger for a task (recorded after each step).</summary>
public sealed record RecordUsage(Guid TaskId, AgentPrincipal Principal, int InputTokens, int OutputTokens, decimal Cost, int ToolCalls);
