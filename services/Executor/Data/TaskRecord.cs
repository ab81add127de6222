using Agents.Contracts;
using Agents.Executor.StateMachines;

namespace Agents.Executor.Data;

/// <summary>
/// A task as the API sees it: created by <c>POST /api/tasks</c> (with its idempotency key) and kept up to date
/// by the <c>TaskRun</c> saga in the same transaction as each state change.
/// </summary>
public sealed class TaskRecord
{
    public Guid Id { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public string UserId { get; set; } = string.Empty;

    public string? IdempotencyKey { get; set; }

    /// <summary>SHA-256 of the request, to recognise a retry with a different body under the same key.</summary>
    public string RequestHash { get; set; } = string.Empty;

    public string? Goal { get; set; }

    public string? TemplateName { get; set; }

    public Dictionary<string, string>? Parameters { get; set; }

    public List<PlanStep>? RequestedSteps { get; set; }

    public TaskLimits? RequestedLimits { get; set; }

    public List<string>? AllowedTools { get; set; }

    public TaskRunStatus Status { get; set; }

    /// <summary>The saga's state name (adds <c>Compensating</c> to the statuses).</summary>
    public string State { get; set; } = string.Empty;

    public Plan? Plan { get; set; }

    public List<StepRun> Steps { get; set; } = [];

    public string? Result { get; set; }

    public string? Reason { get; set; }

    public TaskUsage Usage { get; set; } = TaskUsage.None;

    public TaskLimits? Limits { get; set; }

    public long LastSequence { get; set; }

    /// <summary>
    /// The W3C trace id of the submission, which the run's messages carry on (gateway → executor → planner → tool-gateway →
    /// governance → tool): the id that finds the whole run in the trace backend. Null when the submission was not traced.
    /// </summary>
    public string? TraceId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }
}

/// <summary>One entry of a task's append-only event log.</summary>
public sealed class TaskEvent
{
    public Guid TaskId { get; set; }

    /// <summary>1, 2, 3… per task; the SSE event id.</summary>
    public long Sequence { get; set; }

    public DateTimeOffset At { get; set; }

    public string Kind { get; set; } = string.Empty;

    public string? StepId { get; set; }

    /// <summary>The task's status after this entry.</summary>
    public TaskRunStatus Status { get; set; }

    /// <summary>The entry's details as JSON (prompt, output, tokens, tool arguments, outcome…).</summary>
    public string Data { get; set; } = "{}";
}
