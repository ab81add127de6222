using System.Text.Json;
using Agents.Contracts;

namespace Agents.Planner.Planning;

/// <summary>
/// A plan step as people and models write it: arguments as a JSON object rather than a string.
/// Used by the template API, template storage and the planner model's structured output.
/// </summary>
internal sealed record StepDocument(
    string? Id,
    string? Kind,
    string? Tool,
    JsonElement? Arguments,
    string? Prompt,
    IReadOnlyList<string>? DependsOn,
    string? Description = null,
    int? MaxAttempts = null,
    int? TimeoutSeconds = null,
    string? Model = null)
{
    /// <summary>Converts to the contract's step; shape problems become <paramref name="errors"/>.</summary>
    public PlanStep? ToPlanStep(int index, List<string> errors)
    {
        var label = string.IsNullOrWhiteSpace(Id) ? $"step #{index + 1}" : $"step '{Id}'";
        StepKind kind;
        switch (Kind?.Trim().ToLowerInvariant())
        {
            case "tool":
                kind = StepKind.Tool;
                break;
            case "model":
                kind = StepKind.Model;
                break;
            default:
                errors.Add($"{label}: kind must be 'tool' or 'model' (was '{Kind}').");
                return null;
        }

        string? arguments = null;
        if (Arguments is { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined } value)
        {
            arguments = value.GetRawText();
        }

        return new PlanStep(
            Id ?? string.Empty,
            kind,
            string.IsNullOrWhiteSpace(Tool) ? null : Tool,
            arguments,
            string.IsNullOrWhiteSpace(Prompt) ? null : Prompt,
            DependsOn ?? [],
            Description,
            MaxAttempts,
            TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
            string.IsNullOrWhiteSpace(Model) ? null : Model);
    }

    public static StepDocument FromPlanStep(PlanStep step)
    {
        JsonElement? arguments = null;
        if (!string.IsNullOrWhiteSpace(step.ArgumentsJson))
        {
            using var document = JsonDocument.Parse(step.ArgumentsJson);
            arguments = document.RootElement.Clone();
        }

        return new StepDocument(
            step.Id,
            step.Kind == StepKind.Tool ? "tool" : "model",
            step.Tool,
            arguments,
            step.Prompt,
            step.DependsOn,
            step.Description,
            step.MaxAttempts,
            step.Timeout is { } timeout ? (int)timeout.TotalSeconds : null,
            step.Model);
    }

    /// <summary>
    /// A step as the planner model is shown it: what its plan schema lets it write back. Not the model the step runs on
    /// (not the planner model's choice), nor its attempts and timeout (the template's); a revision puts them back on the
    /// steps it keeps by id.
    /// </summary>
    public static StepDocument ForPlanner(PlanStep step) => FromPlanStep(step) with { Model = null, MaxAttempts = null, TimeoutSeconds = null };

    public static IReadOnlyList<PlanStep> ToPlanSteps(IReadOnlyList<StepDocument>? documents, List<string> errors)
    {
        var steps = new List<PlanStep>();
        if (documents is null)
        {
            return steps;
        }

        for (var i = 0; i < documents.Count; i++)
        {
            if (documents[i] is null)
            {
                errors.Add($"step #{i + 1}: is null.");
                continue;
            }

            if (documents[i].ToPlanStep(i, errors) is { } step)
            {
                steps.Add(step);
            }
        }

        return steps;
    }
}
