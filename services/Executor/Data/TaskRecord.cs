using Agents.Contracts;

namespace Agents.Executor.Data;

/// <summary>
/// A task as submitted (<c>POST /api/tasks</c>, with its idempotency key), plus what the task list filters and sorts
/// on: its status, state, reason and times, refreshed by the <c>TaskRun</c> saga in the transaction of each change of
/// state. The run itself (plan, steps, usage, limits, result) has one home, the saga's row in <c>task_runs</c>,
/// which the task API reads; it is not copied here on every step.
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

    public string? Reason { get; set; }

    /// <summary>The run's last event-log sequence as of its last change of state (the event stream ends after it).</summary>
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
