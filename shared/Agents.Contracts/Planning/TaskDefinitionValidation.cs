namespace Agents.Contracts;

/// <summary>
/// Request (request/response, not stored): would a task with this template or these explicit steps get a plan?
/// The planner answers with <see cref="TaskDefinitionValidation"/> using the same checks as <see cref="CreatePlan"/>
/// (template exists, required and unknown parameters, steps valid against its tool catalog and
/// <paramref name="AllowedTools"/>) and stores nothing. The executor asks before it creates a task, so that an
/// invalid task is refused at submission with nothing half-created. Goal tasks are not validated this way.
/// </summary>
public sealed record ValidateTaskDefinition(
    AgentPrincipal Principal,
    string? TemplateName,
    IReadOnlyDictionary<string, string>? Parameters,
    IReadOnlyList<PlanStep>? Steps,
    IReadOnlyList<string>? AllowedTools);

/// <summary>
/// The planner's answer to <see cref="ValidateTaskDefinition"/>: valid, or why not (<paramref name="Reason"/>, one
/// line) and every problem found (<paramref name="Errors"/>, each naming the step or parameter to change).
/// </summary>
public sealed record TaskDefinitionValidation(bool Valid, string? Reason, IReadOnlyList<string> Errors);
