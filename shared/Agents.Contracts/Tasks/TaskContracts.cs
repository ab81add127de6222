namespace Agents.Contracts;

/// <summary>Terminal and intermediate states of a task run, as reported to clients.</summary>
public enum TaskRunStatus
{
    /// <summary>Accepted, waiting for admission.</summary>
    Submitted,

    /// <summary>Admitted by governance; memories are recalled and a plan is being made.</summary>
    Planning,

    /// <summary>Steps are running.</summary>
    Running,

    /// <summary>A tool call waits for a person's approval.</summary>
    AwaitingApproval,

    /// <summary>Every step succeeded.</summary>
    Completed,

    /// <summary>A step failed after retries and plan revisions; the partial result is kept.</summary>
    Failed,

    /// <summary>Cancelled by its user.</summary>
    Cancelled,

    /// <summary>A budget (steps, tool calls, tokens, cost, wall clock) ran out before the next dispatch.</summary>
    BudgetExceeded,

    /// <summary>Failed, and the completed mutating steps were compensated in reverse order.</summary>
    Compensated,

    /// <summary>Refused at admission (tenant disabled, budget spent, kill switch).</summary>
    Rejected,
}

/// <summary>
/// Hard limits for one task. Null means "no limit from this source"; the effective limit is
/// the smallest of what the task asked for and what the tenant's policy allows. <see cref="MaxIdenticalCalls"/> is the
/// loop limit: how many steps of the task may call the same tool with the same arguments (the policy's
/// <c>loopDetection.maxIdenticalCalls</c>, given with the admission; governance denies the call after it, and the
/// executor stops the task before dispatching it).
/// </summary>
public sealed record TaskLimits(
    int? MaxSteps = null,
    int? MaxToolCalls = null,
    int? MaxTokens = null,
    decimal? MaxCost = null,
    TimeSpan? MaxWallClock = null,
    int? MaxIdenticalCalls = null)
{
    /// <summary>The stricter of two limits, field by field.</summary>
    public TaskLimits Intersect(TaskLimits? other) => other is null
        ? this
        : new TaskLimits(
            Min(MaxSteps, other.MaxSteps),
            Min(MaxToolCalls, other.MaxToolCalls),
            Min(MaxTokens, other.MaxTokens),
            MaxCost is null ? other.MaxCost : other.MaxCost is null ? MaxCost : Math.Min(MaxCost.Value, other.MaxCost.Value),
            MaxWallClock is null ? other.MaxWallClock : other.MaxWallClock is null ? MaxWallClock : MaxWallClock < other.MaxWallClock ? MaxWallClock : other.MaxWallClock,
            Min(MaxIdenticalCalls, other.MaxIdenticalCalls));

    private static int? Min(int? a, int? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);
}

/// <summary>Resources a task has used so far.</summary>
public sealed record TaskUsage(int Steps, int ToolCalls, int InputTokens, int OutputTokens, decimal Cost)
{
    /// <summary>No usage.</summary>
    public static TaskUsage None { get; } = new(0, 0, 0, 0, 0m);

    /// <summary>Total tokens.</summary>
    public int Tokens => InputTokens + OutputTokens;
}

/// <summary>
/// Starts a task run (sent by the executor's task API through its outbox to its own saga). <see cref="ReplayOf"/> makes
/// it a replay of that finished task: its tool calls, model calls and model-written plans are answered from the
/// original's event log, never made live. With <see cref="WhatIf"/> the model steps and a goal's planning are made live
/// (today's model, prompts and templates) while tools are still answered only from the recording: a tool call the original
/// did not make is reported as one the replay would make, and is not made. <see cref="TemplateVersion"/> plans a template
/// task with exactly that version, whatever the template's rollout says (a replay runs the version its original ran).
/// <see cref="Model"/>: every model step runs on this named model (<c>Models:Named:{name}</c>), as the submission (or a
/// what-if replay) asked; a plain replay answers model steps from its recording and takes none.
/// </summary>
public sealed record SubmitTask(
    Guid TaskId,
    AgentPrincipal Principal,
    string? Goal,
    string? TemplateName,
    IReadOnlyDictionary<string, string>? Parameters,
    IReadOnlyList<PlanStep>? Steps,
    TaskLimits? Limits,
    IReadOnlyList<string>? AllowedTools,
    DateTimeOffset SubmittedAt,
    Guid? ReplayOf = null,
    bool WhatIf = false,
    int? TemplateVersion = null,
    string? Model = null);

/// <summary>Asks a running task to stop; the saga cancels pending work and keeps the partial result.</summary>
public sealed record CancelTask(Guid TaskId, AgentPrincipal Principal, string? Reason);

/// <summary>
/// Published once when a task reaches a terminal state (memory writes an episode; governance records usage).
/// <paramref name="UsageReports"/> carries the usage reports of the step that ended the task (its model call), which
/// would otherwise be published on their own in the same moment: governance settles them first.
/// </summary>
public sealed record TaskRunFinished(
    Guid TaskId,
    AgentPrincipal Principal,
    string? Goal,
    TaskRunStatus Status,
    string? Result,
    string? Reason,
    TaskUsage Usage,
    DateTimeOffset FinishedAt,
    IReadOnlyList<RecordUsage>? UsageReports = null,
    string? Template = null);
