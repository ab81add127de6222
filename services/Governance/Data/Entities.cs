namespace Agents.Governance.Data;

/// <summary>One version of a tenant's policy document; every version is kept.</summary>
public sealed class PolicyVersion
{
    public required string TenantId { get; set; }

    public int Version { get; set; }

    public required string Document { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public required string CreatedBy { get; set; }
}

/// <summary>A task's admission and its per-task ledger (limits fixed at admission, usage so far).</summary>
public sealed class TaskBudget
{
    /// <summary>Longest template name kept (a longer one is cut: it only groups the cost baselines).</summary>
    public const int TemplateMaxLength = 200;

    public Guid TaskId { get; set; }

    public required string TenantId { get; set; }

    public required string UserId { get; set; }

    public bool Admitted { get; set; }

    public string? RejectionReason { get; set; }

    public DateTimeOffset AdmittedAt { get; set; }

    public DateOnly Day { get; set; }

    public int? MaxSteps { get; set; }

    public int? MaxToolCalls { get; set; }

    public int? MaxTokens { get; set; }

    public decimal? MaxCost { get; set; }

    public int? MaxWallClockSeconds { get; set; }

    /// <summary>Tools the task may use (null: whatever the policy allows).</summary>
    public string[]? AllowedTools { get; set; }

    public long Tokens { get; set; }

    public decimal Cost { get; set; }

    public int ToolCalls { get; set; }

    public int Steps { get; set; }

    public string? FinishedStatus { get; set; }

    /// <summary>The workflow template the task ran (null for a goal or explicit steps), recorded when it finished: the watchdog's cost baselines are per template.</summary>
    public string? Template { get; set; }
}

/// <summary>Usage of one user (or of the whole tenant, when <see cref="UserId"/> is empty) on one UTC day.</summary>
public sealed class DailyUsage
{
    public const string TenantRow = "";

    public required string TenantId { get; set; }

    public DateOnly Day { get; set; }

    public required string UserId { get; set; }

    public long Tokens { get; set; }

    public decimal Cost { get; set; }

    public int ToolCalls { get; set; }
}

/// <summary>A human approval gate for one tool call, bound to the SHA-256 hash of its exact arguments.</summary>
public sealed class Approval
{
    public Guid Id { get; set; }

    public required string TenantId { get; set; }

    public Guid TaskId { get; set; }

    public required string StepId { get; set; }

    public required string Tool { get; set; }

    public required string ArgumentsHash { get; set; }

    public required string ArgumentsJson { get; set; }

    public bool ArgumentsTainted { get; set; }

    /// <summary>Each tainted argument: its class, where its untrusted content came from, its value and the policy's decision.</summary>
    public List<ApprovalTaint> TaintedArguments { get; set; } = [];

    public required string RequestedBy { get; set; }

    public required string Reason { get; set; }

    /// <summary>Roles that may decide (the policy's approver roles, or the escalation role after escalation).</summary>
    public required string[] ApproverRoles { get; set; }

    public required string Status { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public bool Escalated { get; set; }

    public DateTimeOffset? DecidedAt { get; set; }

    public string? DecidedBy { get; set; }

    public string? Comment { get; set; }
}

/// <summary>One tainted argument of an approval's call, as the approver sees it.</summary>
public sealed record ApprovalTaint(
    string Argument, Contracts.ArgumentClass Class, IReadOnlyList<string> Sources, string Value, bool Flagged, Policies.UntrustedFlow Decision, string Why);

/// <summary>Approval states.</summary>
public static class ApprovalStatus
{
    public const string Pending = "Pending";
    public const string Approved = "Approved";
    public const string Rejected = "Rejected";
    public const string Expired = "Expired";

    /// <summary>The task ended (cancelled, failed, out of budget…) while the approval was pending: nothing is left to approve.</summary>
    public const string Withdrawn = "Withdrawn";

    /// <summary>Every status, as stored.</summary>
    public static IReadOnlyList<string> All { get; } = [Pending, Approved, Rejected, Expired, Withdrawn];
}

/// <summary>One entry of a tenant's append-only, hash-chained audit log.</summary>
public sealed class AuditEntry
{
    public required string TenantId { get; set; }

    public long Sequence { get; set; }

    public DateTimeOffset Time { get; set; }

    public required string Actor { get; set; }

    public required string Action { get; set; }

    public required string Subject { get; set; }

    public Guid? TaskId { get; set; }

    public string? Decision { get; set; }

    public string? Reason { get; set; }

    public required string Details { get; set; }

    public required string PrevHash { get; set; }

    public required string Hash { get; set; }
}

/// <summary>The head of a tenant's audit chain; its row lock serializes appends to that chain.</summary>
public sealed class AuditHead
{
    public required string TenantId { get; set; }

    public long LastSequence { get; set; }

    public required string LastHash { get; set; }
}

/// <summary>A kill switch for a whole tenant (<see cref="Tool"/> = <c>*</c>) or for one tool.</summary>
public sealed class KillSwitch
{
    public const string TenantWide = "*";

    public required string TenantId { get; set; }

    public required string Tool { get; set; }

    public bool Enabled { get; set; }

    public DateTimeOffset ChangedAt { get; set; }

    public required string ChangedBy { get; set; }

    public string? Reason { get; set; }
}

/// <summary>How often a task was allowed to call one tool with the same arguments (loop detector).</summary>
public sealed class ToolCallCount
{
    public Guid TaskId { get; set; }

    public required string Tool { get; set; }

    public required string ArgumentsHash { get; set; }

    /// <summary>How many distinct steps made this call (a step's own retries count once).</summary>
    public int Count { get; set; }

    /// <summary>The distinct step ids that made this call, one per line.</summary>
    public string StepIds { get; set; } = string.Empty;

    public bool HasStep(string stepId) => StepIds.Split('\n').Contains(stepId, StringComparer.Ordinal);
}

/// <summary>
/// Budget reserved from the ledger for one model call (task, step, attempt) before it ran. Its tokens and cost were
/// added to the task, user-day and tenant-day rows of <see cref="Day"/>; the call's usage report settles it
/// (<see cref="SettledAt"/>) by adding the difference between what was used and what was reserved.
/// </summary>
public sealed class ModelReservation
{
    public Guid TaskId { get; set; }

    public required string StepId { get; set; }

    public int Attempt { get; set; }

    public DateOnly Day { get; set; }

    public bool Granted { get; set; }

    /// <summary>Output tokens granted (0 when refused).</summary>
    public int MaxOutputTokens { get; set; }

    public long Tokens { get; set; }

    public decimal Cost { get; set; }

    /// <summary>Why it was refused.</summary>
    public string? Reason { get; set; }

    public bool BudgetExhausted { get; set; }

    public DateTimeOffset ReservedAt { get; set; }

    public DateTimeOffset? SettledAt { get; set; }
}

/// <summary>A message whose effect on the ledger is already applied (idempotent consumers).</summary>
public sealed class ProcessedMessage
{
    public required string Key { get; set; }

    public DateTimeOffset ProcessedAt { get; set; }

    /// <summary>The answer given the first time (JSON), returned again on redelivery.</summary>
    public string? Response { get; set; }
}
