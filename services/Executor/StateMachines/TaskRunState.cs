using Agents.Contracts;
using MassTransit;

namespace Agents.Executor.StateMachines;

/// <summary>
/// The durable state of one task run (saga instance, keyed by the task id). Everything needed to
/// resume after a crash is here: the plan, every step's status and output, usage and the event
/// log's sequence counter.
/// </summary>
public sealed class TaskRunState : SagaStateMachineInstance
{
    public Guid CorrelationId { get; set; }

    /// <summary>The state machine's current state (by name).</summary>
    public string CurrentState { get; set; } = string.Empty;

    /// <summary>Optimistic concurrency token (PostgreSQL <c>xmin</c>).</summary>
    public uint RowVersion { get; set; }

    public AgentPrincipal Principal { get; set; } = new(string.Empty, string.Empty, []);

    public string? Goal { get; set; }

    public string? TemplateName { get; set; }

    /// <summary>
    /// The template version the task's plan was made from (from the plan); before planning, the version the submission
    /// pinned (a replay runs the version its original ran), or null to let the template's rollout choose.
    /// </summary>
    public int? TemplateVersion { get; set; }

    /// <summary>The side of the template's rollout the task fell on (<c>stable</c>, <c>candidate</c>), or null without a rollout.</summary>
    public string? TemplateRollout { get; set; }

    public Dictionary<string, string>? Parameters { get; set; }

    public List<PlanStep>? RequestedSteps { get; set; }

    public TaskLimits? RequestedLimits { get; set; }

    public List<string>? RequestedTools { get; set; }

    /// <summary>The effective limits from admission (policy ∩ request).</summary>
    public TaskLimits Limits { get; set; } = new();

    /// <summary>The tools this task may use (null: whatever policy allows).</summary>
    public List<string>? AllowedTools { get; set; }

    /// <summary>Where the run is, as clients see it.</summary>
    public TaskRunStatus Status { get; set; } = TaskRunStatus.Submitted;

    /// <summary>True while completed mutating steps are being compensated.</summary>
    public bool Compensating { get; set; }

    /// <summary>
    /// The finished task this run replays: tool calls, model calls and model-written plans are answered from its event
    /// log (<see cref="RecordedAnswers"/>) and never leave the executor.
    /// </summary>
    public Guid? ReplayOf { get; set; }

    /// <summary>A what-if replay: model steps and a goal's planning are live; only tools answer from the recording.</summary>
    public bool WhatIf { get; set; }

    /// <summary>The model (<c>Models:Named:{name}</c>) every model step runs on, as the submission or a what-if replay asked; null: each step's own.</summary>
    public string? Model { get; set; }

    /// <summary>True once CreatePlan was published (memories arrived or their timeout fired).</summary>
    public bool PlanRequested { get; set; }

    /// <summary>True while a RevisePlan is outstanding; no new step is dispatched meanwhile.</summary>
    public bool RevisionPending { get; set; }

    public int Revisions { get; set; }

    /// <summary>
    /// True when untrusted content (a recalled memory, or a failed step's error on revision) was in the
    /// planner's context: a plan the model wrote from it may carry injected values in literal arguments,
    /// where no reference shows the taint, so every literal of such a plan is treated as tainted. Only runs started
    /// before the planner stopped reading untrusted text set it (the executor now withholds that text from the planner).
    /// </summary>
    public bool PlannerSawUntrusted { get; set; }

    public Plan? Plan { get; set; }

    /// <summary>Every step ever run in this task (across plan versions), by step id.</summary>
    public Dictionary<string, StepRun> Steps { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Completed steps that may need compensation, in completion order.</summary>
    public List<string> CompensableSteps { get; set; } = [];

    /// <summary>Steps still to compensate, next first.</summary>
    public List<string> CompensationQueue { get; set; } = [];

    /// <summary>Dispatch counts per (tool, arguments) for the loop detector.</summary>
    public Dictionary<string, int> ToolCallCounts { get; set; } = new(StringComparer.Ordinal);

    public int StepsStarted { get; set; }

    public int ToolCalls { get; set; }

    public int InputTokens { get; set; }

    public int OutputTokens { get; set; }

    public decimal Cost { get; set; }

    public int MemoryCount { get; set; }

    public string? Reason { get; set; }

    /// <summary>The (partial) result: outputs of the succeeded steps as a JSON object, set at the end.</summary>
    public string? Result { get; set; }

    /// <summary>The last event log sequence number written for this task.</summary>
    public long EventSequence { get; set; }

    public DateTimeOffset SubmittedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }

    /// <summary>The state the machine should be in: the status, or <c>Compensating</c>.</summary>
    public string Phase => Compensating ? "Compensating" : Status.ToString();

    public TaskUsage Usage => new(StepsStarted, ToolCalls, InputTokens, OutputTokens, Cost);

    public bool IsTerminal => Status is TaskRunStatus.Completed or TaskRunStatus.Failed or TaskRunStatus.Cancelled
        or TaskRunStatus.BudgetExceeded or TaskRunStatus.Compensated or TaskRunStatus.Rejected;
}

/// <summary>Status of one step of a task run.</summary>
public enum StepStatus
{
    Pending,
    Running,
    AwaitingApproval,
    Succeeded,
    Failed,
    Compensating,
    Compensated,
    CompensationFailed,
}

/// <summary>One step's run: attempts, resolved input, output and whether that output is tainted.</summary>
public sealed class StepRun
{
    public string Id { get; set; } = string.Empty;

    public StepKind Kind { get; set; }

    public string? Tool { get; set; }

    public StepStatus Status { get; set; }

    /// <summary>Attempts counted against the retry policy.</summary>
    public int Attempts { get; set; }

    /// <summary>
    /// Dispatches of this step id in the task (attempts plus re-invocations after approval), counted on across plan
    /// revisions so that every dispatch of a step id has its own number; timeouts, model answers and model-call budget
    /// reservations carry it.
    /// </summary>
    public int Dispatches { get; set; }

    /// <summary>Dispatches of this step id under earlier plan versions (where <see cref="Dispatches"/> started).</summary>
    public int EarlierDispatches { get; set; }

    /// <summary>The resolved arguments (tool) or prompt (model) of the latest attempt.</summary>
    public string? Input { get; set; }

    /// <summary>True when <see cref="Input"/> was built from untrusted content.</summary>
    public bool InputTainted { get; set; }

    public string? Output { get; set; }

    /// <summary>True when <see cref="Output"/> is untrusted (outside content, or derived from it).</summary>
    public bool Tainted { get; set; }

    /// <summary>Top-level output fields the tool declared untrusted in an otherwise trusted output.</summary>
    public List<string>? UntrustedFields { get; set; }

    /// <summary>For a model step: the untrusted sources its prompt read (its output inherits them).</summary>
    public List<string>? TaintSources { get; set; }

    /// <summary>The untrusted content of the output (or what the model read) addresses instructions to an AI agent.</summary>
    public bool Flagged { get; set; }

    /// <summary>The arguments' provenance of the latest tool dispatch (shown in the event log and to governance).</summary>
    public List<ArgumentProvenance>? InputProvenance { get; set; }

    /// <summary>True when <see cref="Error"/> holds a tool's words that may echo outside content, not the platform's.</summary>
    public bool ErrorUntrusted { get; set; }

    public string? Error { get; set; }

    public string? IdempotencyKey { get; set; }

    /// <summary>Tokens (input estimate + output cap) reserved for this step's model call while it is in flight.</summary>
    public int ReservedTokens { get; set; }

    /// <summary>Cost reserved for this step's model call while it is in flight.</summary>
    public decimal ReservedCost { get; set; }

    public Guid? ApprovalId { get; set; }

    /// <summary>
    /// When the running attempt times out (set when it is dispatched), or, for a step that <see cref="WaitingUntil"/>, when the
    /// wait is over: the task's wake-up (<see cref="StepDeadlines"/>) is due at the earliest of these.
    /// </summary>
    public DateTimeOffset? DueAt { get; set; }

    /// <summary>
    /// The step is not dispatched again before this time: its tool's circuit is open and lets a trial call through then
    /// (<see cref="Contracts.ToolCallCompleted.RetryAt"/>). The step is <see cref="StepStatus.Pending"/> meanwhile, with
    /// its attempts left; spending them at once would only collect more refusals from the open circuit.
    /// </summary>
    public DateTimeOffset? WaitingUntil { get; set; }

    /// <summary>
    /// A scheduled <see cref="Contracts.StepTimedOut"/> this step holds: the task's one wake-up for the timeouts of its running
    /// steps (see <see cref="StepDeadlines"/>), or, with no <see cref="TimeoutAttempt"/>, the per-attempt timeout of a step
    /// dispatched by an executor of an earlier version, cancelled when the attempt ends.
    /// </summary>
    public Guid? TimeoutToken { get; set; }

    /// <summary>The dispatch the wake-up in <see cref="TimeoutToken"/> names (its message carries it).</summary>
    public int? TimeoutAttempt { get; set; }

    /// <summary>When the wake-up in <see cref="TimeoutToken"/> fires.</summary>
    public DateTimeOffset? TimeoutAt { get; set; }

    /// <summary>The side-effect class from the tool catalog when the step completed (null: unknown).</summary>
    public SideEffectClass? SideEffect { get; set; }

    public int PlanVersion { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }
}
