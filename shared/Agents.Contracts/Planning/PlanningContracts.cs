namespace Agents.Contracts;

/// <summary>What a step does.</summary>
public enum StepKind
{
    /// <summary>Calls a tool through the tool-gateway.</summary>
    Tool,

    /// <summary>Asks the executor's model (bounded output tokens).</summary>
    Model,
}

/// <summary>
/// One step of a plan. <see cref="ArgumentsJson"/> (tool steps) and <see cref="Prompt"/> (model steps)
/// may reference earlier outputs as <c>{{steps.&lt;id&gt;.output}}</c> or <c>{{steps.&lt;id&gt;.output.&lt;json.path&gt;}}</c>,
/// and task parameters as <c>{{params.&lt;name&gt;}}</c>; a referenced step must be listed in <see cref="DependsOn"/>.
/// <see cref="Model"/> (model steps): a model configured by name in the executor (<c>Models:Named:{name}</c>) to run the
/// step with instead of the executor's own, so a template version carries its model settings with its prompts.
/// </summary>
public sealed record PlanStep(
    string Id,
    StepKind Kind,
    string? Tool,
    string? ArgumentsJson,
    string? Prompt,
    IReadOnlyList<string> DependsOn,
    string? Description = null,
    int? MaxAttempts = null,
    TimeSpan? Timeout = null,
    string? Model = null);

/// <summary>
/// A validated plan. Versions start at 1; a revision keeps the same <see cref="PlanId"/>. A plan made from a workflow
/// template names it and the <see cref="TemplateVersion"/> it was made from; <see cref="Rollout"/> says which side of
/// the template's rollout the task fell on (<c>stable</c> or <c>candidate</c>; null when no rollout was set).
/// </summary>
public sealed record Plan(
    Guid PlanId,
    int Version,
    string Source,
    IReadOnlyList<PlanStep> Steps,
    string? Rationale = null,
    string? Template = null,
    int? TemplateVersion = null,
    string? Rollout = null);

/// <summary>A tool as the planner sees it: enough to choose it and fill its arguments.</summary>
public sealed record ToolSummary(string Name, string Description, string InputSchema, SideEffectClass SideEffect);

/// <summary>
/// Asks the planner for a plan: from a goal (planner model), a workflow template by name, or explicit steps.
/// <see cref="Admission"/>: set when governance passed the request on after admitting the task
/// (<see cref="AdmitTask.ThenPlan"/>); the planner returns it with its answer. <see cref="TemplateVersion"/>: plan with
/// exactly this version of the template (a replay of a task planned from it), whatever the template's rollout says.
/// </summary>
public sealed record CreatePlan(
    Guid TaskId,
    AgentPrincipal Principal,
    string? Goal,
    string? TemplateName,
    IReadOnlyDictionary<string, string>? Parameters,
    IReadOnlyList<PlanStep>? Steps,
    IReadOnlyList<RecalledMemory>? Memories,
    IReadOnlyList<string>? AllowedTools,
    TaskAdmitted? Admission = null,
    int? TemplateVersion = null);

/// <summary>Asks for a new plan version after a step failed for good.</summary>
public sealed record RevisePlan(
    Guid TaskId,
    AgentPrincipal Principal,
    Guid PlanId,
    int Version,
    string FailedStepId,
    string Error,
    IReadOnlyList<string> CompletedStepIds);

/// <summary>A plan (or a revision) is ready. <see cref="Admission"/>: governance's admission, when it came with the request.</summary>
public sealed record PlanCreated(Guid TaskId, Plan Plan, TaskAdmitted? Admission = null);

/// <summary>No valid plan could be made; <see cref="Reason"/> says why, for a person. <see cref="Admission"/> as in <see cref="PlanCreated"/>.</summary>
public sealed record PlanRejected(Guid TaskId, string Reason, IReadOnlyList<string>? Errors = null, TaskAdmitted? Admission = null);
