using Agents.Contracts;
using Agents.Planner.Catalog;
using Agents.Planner.Data;
using Agents.Planner.Planning;
using Agents.Planner.Templates;
using Agents.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Agents.Planner.Consumers;

/// <summary>
/// Answers <see cref="ValidateTaskDefinition"/> with <see cref="TaskDefinitionValidation"/>: the checks a
/// <see cref="CreatePlan"/> with a template or explicit steps goes through (<see cref="TemplateRules.Expand"/>,
/// <see cref="PlanValidator"/> against the catalog and the allowed tools), with the same messages, but nothing is
/// stored. Steps win over a template name, as in <see cref="PlanningService"/>.
/// </summary>
internal sealed class ValidateTaskDefinitionConsumer(PlannerDbContext db, ToolCatalog catalog, IOptions<PlannerOptions> options)
    : IConsumer<ValidateTaskDefinition>
{
    public async Task Consume(ConsumeContext<ValidateTaskDefinition> context)
    {
        var message = context.Message;
        if (message.Principal is null || string.IsNullOrWhiteSpace(message.Principal.TenantId))
        {
            throw new PermanentFailureException("ValidateTaskDefinition needs a Principal with a TenantId.");
        }

        await context.RespondAsync(await ValidateAsync(message, context.CancellationToken));
    }

    private async Task<TaskDefinitionValidation> ValidateAsync(ValidateTaskDefinition message, CancellationToken cancellationToken)
    {
        var parameters = message.Parameters ?? new Dictionary<string, string>();
        var tools = await catalog.LoadAsync(cancellationToken);
        var validation = new PlanValidationContext(tools, message.AllowedTools, parameters.Keys.ToHashSet(StringComparer.Ordinal), options.Value.MaxSteps);

        if (message.Steps is { Count: > 0 })
        {
            var steps = message.Steps.Select(s => s with
            {
                ArgumentsJson = s.Kind == StepKind.Tool && string.IsNullOrWhiteSpace(s.ArgumentsJson) ? "{}" : s.ArgumentsJson,
                DependsOn = s.DependsOn ?? [],
            }).ToList();
            var errors = PlanValidator.Validate(steps, validation);
            return errors.Count > 0 ? Invalid($"The given steps are not a valid plan: {Summary(errors)}", errors) : Valid();
        }

        if (!string.IsNullOrWhiteSpace(message.TemplateName))
        {
            var template = await TemplateStore.FindLatestAsync(db, message.Principal.TenantId, message.TemplateName, cancellationToken);
            if (template is null)
            {
                var reason = $"unknown template '{message.TemplateName}'";
                return Invalid(reason, [reason]);
            }

            var expansion = new List<string>();
            var steps = TemplateRules.Expand(template, parameters, expansion);
            if (expansion.Count > 0)
            {
                return Invalid(expansion.Count == 1 ? expansion[0] : $"template '{template.Name}': {Summary(expansion)}", expansion);
            }

            var errors = PlanValidator.Validate(steps, validation);
            return errors.Count > 0
                ? Invalid($"template '{template.Name}' version {template.Version} does not give a valid plan for this task: {Summary(errors)}", errors)
                : Valid();
        }

        const string nothing = "The request has no template name or steps to validate (a goal is planned when the task runs).";
        return Invalid(nothing, [nothing]);
    }

    private static TaskDefinitionValidation Valid() => new(true, null, []);

    private static TaskDefinitionValidation Invalid(string reason, IReadOnlyList<string> errors) => new(false, reason, errors);

    private static string Summary(IReadOnlyList<string> errors) =>
        errors.Count <= 3 ? string.Join("; ", errors) : string.Join("; ", errors.Take(3)) + $"; and {errors.Count - 3} more";
}
