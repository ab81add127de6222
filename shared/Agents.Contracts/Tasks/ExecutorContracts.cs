namespace Agents.Contracts;

/// <summary>
/// The executor's <c>TaskRun</c> saga asks its own model worker (sent to the executor's model-step queue, by way of
/// governance's budget reservation: <see cref="ReserveModelBudget.ThenRun"/>) to run one model step. <see cref="Attempt"/> lets the saga ignore answers to an earlier attempt.
/// </summary>
/// <param name="TaskId">The task.</param>
/// <param name="StepId">The plan step.</param>
/// <param name="Attempt">1 for the first attempt, counting up on retries.</param>
/// <param name="Principal">Who the task runs for.</param>
/// <param name="SystemPrompt">Instructions for the model (including how to treat delimited untrusted data).</param>
/// <param name="Prompt">The step's prompt with references resolved; untrusted parts are delimited and labelled as data.</param>
/// <param name="PromptTainted">True when the prompt includes untrusted content.</param>
/// <param name="MaxOutputTokens">Upper bound on output tokens for this call.</param>
/// <param name="Reservation">
/// Governance's answer for this call's budget, when the saga sent the step through governance
/// (<see cref="ReserveModelBudget.ThenRun"/>); null when the step came straight from the saga, and then the worker asks
/// governance itself. A "retry later" answer is asked again by the worker.
/// </param>
/// <param name="Model">A model configured by name in the executor (<c>Models:Named:{name}</c>); null: the executor's own.</param>
public sealed record RunModelStep(
    Guid TaskId,
    string StepId,
    int Attempt,
    AgentPrincipal Principal,
    string SystemPrompt,
    string Prompt,
    bool PromptTainted,
    int MaxOutputTokens,
    ModelBudgetReservation? Reservation = null,
    string? Model = null);

/// <summary>The executor's model worker's answer to <see cref="RunModelStep"/> (published; correlated by TaskId).</summary>
/// <param name="TaskId">The task.</param>
/// <param name="StepId">The plan step.</param>
/// <param name="Attempt">The attempt this answers.</param>
/// <param name="Succeeded">False when the model call failed; <see cref="Error"/> says why.</param>
/// <param name="Output">The model's text output.</param>
/// <param name="Error">Why the call failed.</param>
/// <param name="Model">The model that answered.</param>
/// <param name="InputTokens">Input tokens used.</param>
/// <param name="OutputTokens">Output tokens used.</param>
/// <param name="Cost">Cost of the call, in the price table's currency.</param>
/// <param name="DurationMs">Wall-clock duration of the call.</param>
/// <param name="Reserved">True when governance reserved (or, not having answered in time, may have reserved) budget for the call: its usage report then names the call, which settles the reservation.</param>
/// <param name="Refusal">Why governance refused to reserve budget for the call; the model was not called.</param>
/// <param name="BudgetExhausted">True when <see cref="Refusal"/> is a daily budget running out.</param>
/// <param name="Permanent">The same call would fail again (the step names a model that is not configured): not retried.</param>
public sealed record ModelStepCompleted(
    Guid TaskId,
    string StepId,
    int Attempt,
    bool Succeeded,
    string? Output,
    string? Error,
    string? Model,
    int InputTokens,
    int OutputTokens,
    decimal Cost,
    double DurationMs,
    bool Reserved = false,
    string? Refusal = null,
    bool BudgetExhausted = false,
    bool Permanent = false);

/// <summary>
/// Scheduled by the <c>TaskRun</c> saga when it dispatches a step attempt; if the attempt is still running
/// when this arrives, the attempt counts as failed (timed out). Stale timeouts are ignored.
/// </summary>
public sealed record StepTimedOut(Guid TaskId, string StepId, int Attempt);

/// <summary>Scheduled by the <c>TaskRun</c> saga when it asks memory; if no answer came by then, it plans without memories.</summary>
public sealed record MemoryRecallTimedOut(Guid TaskId);
