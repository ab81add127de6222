using Agents.Contracts;

namespace Agents.Planner.Planning;

/// <summary>
/// What the planner model is asked, in structured form. Passed to the model call in
/// <c>ChatOptions.AdditionalProperties[<see cref="ModelPlanner.RequestProperty"/>]</c> so that the offline
/// deterministic planner can answer without parsing the prompt; real providers ignore it and read the prompt.
/// </summary>
internal sealed record PlanningRequest(
    string Goal,
    IReadOnlyList<ToolSummary> Tools,
    IReadOnlyDictionary<string, string> Parameters,
    int MaxSteps,
    PlanRevisionRequest? Revision = null);

/// <summary>The failure a revision answers: the plan so far, what completed and what failed.</summary>
internal sealed record PlanRevisionRequest(
    int Version,
    IReadOnlyList<PlanStep> PreviousSteps,
    IReadOnlyList<string> CompletedStepIds,
    string FailedStepId,
    string Error);

/// <summary>The planner model's answer (the JSON the plan schema describes).</summary>
internal sealed record PlanDraft(string? Rationale, IReadOnlyList<StepDocument>? Steps);
