using System.Text.Json;
using Agents.Contracts;

namespace Agents.Planner.Planning;

/// <summary>What a plan is checked against.</summary>
/// <param name="Catalog">Known tools by name; null skips the tool checks (structure only).</param>
/// <param name="AllowedTools">Tools the task may use; null means every known tool.</param>
/// <param name="Parameters">Names that <c>{{params.name}}</c> may refer to.</param>
/// <param name="MaxSteps">Largest number of steps.</param>
internal sealed record PlanValidationContext(
    IReadOnlyDictionary<string, ToolSummary>? Catalog,
    IReadOnlyCollection<string>? AllowedTools,
    IReadOnlySet<string> Parameters,
    int MaxSteps)
{
    /// <summary>The task's parameter values: a tool's arguments are checked with <c>{{params.name}}</c> resolved (null: unknown).</summary>
    public IReadOnlyDictionary<string, string>? ParameterValues { get; init; }

    /// <summary>The tool name patterns the caller's roles allow (governance's admission; null: not told).</summary>
    public IReadOnlyList<string>? CallableTools { get; init; }
}

/// <summary>
/// Checks a plan against its own structure and the tool catalog. Every error names the step and
/// says what to change, because the errors are fed back to the planner model and shown to people.
/// </summary>
internal static class PlanValidator
{
    private const int MaxListedTools = 25;

    /// <summary>The longest prompt, arguments or description a step may have (the executor's own limit for submitted steps).</summary>
    public const int MaxStepTextLength = 16_000;

    public static IReadOnlyList<string> Validate(IReadOnlyList<PlanStep> steps, PlanValidationContext context)
    {
        var errors = new List<string>();
        if (steps.Count == 0)
        {
            errors.Add("The plan has no steps; it needs at least one.");
            return errors;
        }

        if (steps.Count > context.MaxSteps)
        {
            errors.Add($"The plan has {steps.Count} steps; at most {context.MaxSteps} are allowed.");
        }

        var indexById = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < steps.Count; i++)
        {
            var id = steps[i].Id;
            if (string.IsNullOrWhiteSpace(id))
            {
                errors.Add($"step #{i + 1}: has no id.");
            }
            else if (!StepRules.IsValidId(id))
            {
                errors.Add($"step '{id}': not a valid id: {StepRules.IdRule}.");
            }
            else if (indexById.TryGetValue(id, out var first))
            {
                errors.Add($"step '{id}': duplicate step id (steps #{first + 1} and #{i + 1}); step ids must be unique.");
            }
            else
            {
                indexById[id] = i;
            }
        }

        for (var i = 0; i < steps.Count; i++)
        {
            ValidateStep(steps[i], i, indexById, context, errors);
        }

        ValidateDependencyOrder(steps, indexById, errors);
        return errors;
    }

    private static void ValidateStep(PlanStep step, int index, Dictionary<string, int> indexById, PlanValidationContext context, List<string> errors)
    {
        var label = string.IsNullOrWhiteSpace(step.Id) ? $"step #{index + 1}" : $"step '{step.Id}'";
        foreach (var (field, text) in new[] { ("prompt", step.Prompt), ("arguments", step.ArgumentsJson), ("description", step.Description) })
        {
            if (text is { Length: > MaxStepTextLength })
            {
                errors.Add($"{label}: the {field} has {text.Length} characters; at most {MaxStepTextLength} are allowed.");
            }
        }

        if (StepRules.ModelProblem(step) is { } modelProblem)
        {
            errors.Add($"{label}: {modelProblem}");
        }

        if (step.MaxAttempts is { } attempts && !StepRules.IsValidAttempts(attempts))
        {
            errors.Add($"{label}: maxAttempts must be between {StepRules.MinAttempts} and {StepRules.MaxAttempts} (was {attempts}).");
        }

        if (step.Timeout is { } timeout && !StepRules.IsValidTimeout(timeout))
        {
            errors.Add($"{label}: timeout must be positive and at most {StepRules.MaxTimeout.TotalMinutes:0} minutes (was {timeout}).");
        }

        string? referenceText;
        if (step.Kind == StepKind.Tool)
        {
            ValidateToolStep(step, label, context, errors);
            referenceText = step.ArgumentsJson;
        }
        else
        {
            if (string.IsNullOrWhiteSpace(step.Prompt))
            {
                errors.Add($"{label}: a model step needs a prompt.");
            }

            if (step.Tool is not null)
            {
                errors.Add($"{label}: a model step cannot name a tool ('{step.Tool}'); use kind 'tool' for tool calls.");
            }

            referenceText = step.Prompt;
        }

        foreach (var dependency in step.DependsOn.Distinct(StringComparer.Ordinal))
        {
            if (dependency == step.Id)
            {
                errors.Add($"{label}: depends on itself (cycle {step.Id} → {step.Id}).");
            }
            else if (!indexById.ContainsKey(dependency))
            {
                errors.Add($"{label}: depends on unknown step '{dependency}'.");
            }
        }

        foreach (var reference in StepReferences.Find(referenceText))
        {
            if (!reference.IsValid)
            {
                errors.Add($"{label}: invalid reference {reference.Text}; use {{{{steps.<id>.output}}}}, {{{{steps.<id>.output.<json.path>}}}} or {{{{params.<name>}}}}.");
            }
            else if (reference.StepId is { } referenced && !step.DependsOn.Contains(referenced, StringComparer.Ordinal))
            {
                errors.Add(indexById.ContainsKey(referenced)
                    ? $"{label}: references {reference.Text} but does not list '{referenced}' in dependsOn."
                    : $"{label}: references {reference.Text}, but there is no step '{referenced}'.");
            }
            else if (reference.ParameterName is { } name && !context.Parameters.Contains(name))
            {
                errors.Add(context.Parameters.Count == 0
                    ? $"{label}: references {reference.Text}, but no parameters were given."
                    : $"{label}: references {reference.Text}, but no parameter '{name}' was given (given: {string.Join(", ", context.Parameters.Order(StringComparer.Ordinal))}).");
            }
        }
    }

    private static void ValidateToolStep(PlanStep step, string label, PlanValidationContext context, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(step.Tool))
        {
            errors.Add($"{label}: a tool step needs a tool name.");
            return;
        }

        JsonElement? arguments = null;
        try
        {
            using var document = JsonDocument.Parse(string.IsNullOrWhiteSpace(step.ArgumentsJson) ? "{}" : step.ArgumentsJson);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"{label}: arguments must be a JSON object (was {document.RootElement.ValueKind.ToString().ToLowerInvariant()}).");
            }
            else
            {
                arguments = document.RootElement.Clone();
            }
        }
        catch (JsonException ex)
        {
            errors.Add($"{label}: arguments are not valid JSON: {ex.Message}");
        }

        if (context.Catalog is null)
        {
            return;
        }

        if (!context.Catalog.TryGetValue(step.Tool, out var tool))
        {
            var known = context.Catalog.Keys.Order(StringComparer.Ordinal).Take(MaxListedTools).ToList();
            errors.Add(known.Count == 0
                ? $"{label}: unknown tool '{step.Tool}'; the planner's tool catalog is empty (tools announce themselves on start and every minute)."
                : $"{label}: unknown tool '{step.Tool}'; known tools: {string.Join(", ", known)}.");
            return;
        }

        if (context.AllowedTools is not null && !context.AllowedTools.Contains(step.Tool, StringComparer.Ordinal))
        {
            errors.Add($"{label}: tool '{step.Tool}' is not allowed for this task (allowed: {(context.AllowedTools.Count == 0 ? "none" : string.Join(", ", context.AllowedTools))}).");
            return;
        }

        if (context.CallableTools is { } callable && !Wildcard.MatchesAny(callable, step.Tool))
        {
            errors.Add(callable.Count == 0
                ? $"{label}: tool '{step.Tool}' may not be called: the caller's roles allow no tool under the tenant's policy."
                : $"{label}: tool '{step.Tool}' may not be called: none of the caller's roles allows it under the tenant's policy (they allow: {string.Join(", ", callable.Take(MaxListedTools))}).");
            return;
        }

        if (arguments is { } value)
        {
            foreach (var error in ToolArgumentChecker.Check(tool, value, context.ParameterValues))
            {
                errors.Add($"{label}: {error}");
            }
        }
    }

    private static void ValidateDependencyOrder(IReadOnlyList<PlanStep> steps, Dictionary<string, int> indexById, List<string> errors)
    {
        var onCycle = new HashSet<string>(StringComparer.Ordinal);
        var reported = new HashSet<string>(StringComparer.Ordinal);
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 visiting, 2 done
        var path = new List<string>();

        void Visit(string id)
        {
            state[id] = 1;
            path.Add(id);
            foreach (var next in steps[indexById[id]].DependsOn.Distinct(StringComparer.Ordinal))
            {
                if (next == id || !indexById.ContainsKey(next))
                {
                    continue; // reported per step
                }

                if (state.TryGetValue(next, out var s) && s == 1)
                {
                    var cycle = path.Skip(path.IndexOf(next)).ToList();
                    onCycle.UnionWith(cycle);
                    var key = string.Join(",", cycle.Order(StringComparer.Ordinal));
                    if (reported.Add(key))
                    {
                        // Shown in dependency direction: a → b means a depends on b.
                        errors.Add($"dependency cycle: {string.Join(" → ", cycle)} → {next}; a plan must be acyclic.");
                    }
                }
                else if (!state.ContainsKey(next))
                {
                    Visit(next);
                }
            }

            path.RemoveAt(path.Count - 1);
            state[id] = 2;
        }

        foreach (var id in indexById.Keys)
        {
            if (!state.ContainsKey(id))
            {
                Visit(id);
            }
        }

        foreach (var (id, index) in indexById)
        {
            foreach (var dependency in steps[index].DependsOn.Distinct(StringComparer.Ordinal))
            {
                if (indexById.TryGetValue(dependency, out var dependencyIndex) && dependencyIndex > index
                    && !(onCycle.Contains(id) && onCycle.Contains(dependency)))
                {
                    errors.Add($"step '{id}': depends on '{dependency}', which comes later; list each step after the steps it depends on.");
                }
            }
        }
    }
}
