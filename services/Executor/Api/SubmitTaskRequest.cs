using System.Text.Json;
using System.Text.RegularExpressions;
using Agents.Contracts;

namespace Agents.Executor.Api;

/// <summary>
/// Body of <c>POST /api/tasks</c>: exactly one of <see cref="Goal"/>, <see cref="Template"/> (with
/// <see cref="Parameters"/>) or <see cref="Steps"/>; optional <see cref="Limits"/> (can only lower the policy's),
/// <see cref="AllowedTools"/> and <see cref="Model"/> (every model step of the task runs on this named model,
/// <c>Models:Named:{name}</c>, instead of its own or the executor's: an evaluation of a candidate model).
/// </summary>
public sealed record SubmitTaskRequest(
    string? Goal,
    string? Template,
    Dictionary<string, string>? Parameters,
    List<PlanStep>? Steps,
    TaskLimits? Limits,
    List<string>? AllowedTools,
    string? Model = null);

internal static partial class SubmitTaskValidation
{
    public const int MaxGoalLength = 4000;
    public const int MaxTemplateLength = 100;
    public const int MaxParameters = 50;
    public const int MaxParameterValueLength = 4000;
    public const int MaxSteps = 50;
    public const int MaxStepTextLength = 16_000;
    public const int MaxAllowedTools = 100;

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,100}$")]
    private static partial Regex Name();

    public static Dictionary<string, string[]> Validate(SubmitTaskRequest request)
    {
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Add(string field, string message)
        {
            if (!errors.TryGetValue(field, out var list))
            {
                errors[field] = list = [];
            }

            list.Add(message);
        }

        if (request.Model is { } model && StepRules.ModelNameProblem(model) is { } modelProblem)
        {
            Add("model", modelProblem);
        }

        var given = new[] { ("goal", request.Goal is not null), ("template", request.Template is not null), ("steps", request.Steps is not null) }
            .Where(x => x.Item2).Select(x => x.Item1).ToList();
        if (given.Count != 1)
        {
            Add("request", given.Count == 0
                ? "Give exactly one of 'goal', 'template' or 'steps'."
                : $"Give exactly one of 'goal', 'template' or 'steps', not {string.Join(" and ", given)}.");
        }

        if (request.Goal is not null)
        {
            if (string.IsNullOrWhiteSpace(request.Goal))
            {
                Add("goal", "The goal must not be empty.");
            }
            else if (request.Goal.Length > MaxGoalLength)
            {
                Add("goal", $"The goal is {request.Goal.Length} characters long; at most {MaxGoalLength} are allowed.");
            }
        }

        if (request.Template is not null && !Name().IsMatch(request.Template))
        {
            Add("template", $"The template name must be 1 to {MaxTemplateLength} letters, digits, '.', '-' or '_'.");
        }

        if (request.Parameters is { } parameters)
        {
            if (parameters.Count > MaxParameters)
            {
                Add("parameters", $"At most {MaxParameters} parameters are allowed; got {parameters.Count}.");
            }

            foreach (var (name, value) in parameters)
            {
                if (!Name().IsMatch(name))
                {
                    Add($"parameters.{name}", "A parameter name must be 1 to 100 letters, digits, '.', '-' or '_'.");
                }

                if (value is null || value.Length > MaxParameterValueLength)
                {
                    Add($"parameters.{name}", $"A parameter value must be a string of at most {MaxParameterValueLength} characters.");
                }
            }
        }

        if (request.Steps is { } steps)
        {
            ValidateSteps(steps, Add);
        }

        if (request.Limits is { } limits)
        {
            if (limits.MaxSteps < 0)
            {
                Add("limits.maxSteps", "must not be negative.");
            }

            if (limits.MaxToolCalls < 0)
            {
                Add("limits.maxToolCalls", "must not be negative.");
            }

            if (limits.MaxTokens < 0)
            {
                Add("limits.maxTokens", "must not be negative.");
            }

            if (limits.MaxCost < 0)
            {
                Add("limits.maxCost", "must not be negative.");
            }

            if (limits.MaxWallClock < TimeSpan.Zero)
            {
                Add("limits.maxWallClock", "must not be negative.");
            }

            if (limits.MaxIdenticalCalls < 1)
            {
                Add("limits.maxIdenticalCalls", "must be at least 1 (one step may always make a call).");
            }
        }

        if (request.AllowedTools is { } tools)
        {
            if (tools.Count > MaxAllowedTools)
            {
                Add("allowedTools", $"At most {MaxAllowedTools} tools are allowed; got {tools.Count}.");
            }

            for (var i = 0; i < tools.Count; i++)
            {
                if (!ToolEndpoints.IsValidName(tools[i]))
                {
                    Add($"allowedTools[{i}]", $"'{tools[i]}' is not a valid tool name (lower-case letters, digits, '.', '-', '_').");
                }
            }
        }

        return errors.ToDictionary(x => x.Key, x => x.Value.ToArray(), StringComparer.Ordinal);
    }

    private static void ValidateSteps(List<PlanStep> steps, Action<string, string> add)
    {
        if (steps.Count == 0 || steps.Count > MaxSteps)
        {
            add("steps", $"Give between 1 and {MaxSteps} steps; got {steps.Count}.");
            return;
        }

        var ids = steps.Where(s => s?.Id is not null).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var at = $"steps[{i}]";
            if (step is null)
            {
                add(at, "A step must be an object.");
                continue;
            }

            if (!StepRules.IsValidId(step.Id))
            {
                add(at + ".id", $"Not a valid step id: {StepRules.IdRule}.");
            }
            else if (!seen.Add(step.Id))
            {
                add(at + ".id", $"The step id '{step.Id}' is used twice.");
            }

            if (!Enum.IsDefined(step.Kind))
            {
                add(at + ".kind", "The kind must be 'tool' or 'model'.");
            }
            else if (step.Kind == StepKind.Tool)
            {
                if (!ToolEndpoints.IsValidName(step.Tool))
                {
                    add(at + ".tool", "A tool step needs a valid tool name (lower-case letters, digits, '.', '-', '_').");
                }

                if (step.ArgumentsJson is { } arguments)
                {
                    if (arguments.Length > MaxStepTextLength)
                    {
                        add(at + ".argumentsJson", $"The arguments are {arguments.Length} characters long; at most {MaxStepTextLength} are allowed.");
                    }
                    else if (!IsJsonObject(arguments))
                    {
                        add(at + ".argumentsJson", "The arguments must be a JSON object, given as a string.");
                    }
                }
            }
            else if (string.IsNullOrWhiteSpace(step.Prompt))
            {
                add(at + ".prompt", "A model step needs a prompt.");
            }
            else if (step.Prompt.Length > MaxStepTextLength)
            {
                add(at + ".prompt", $"The prompt is {step.Prompt.Length} characters long; at most {MaxStepTextLength} are allowed.");
            }

            foreach (var dependency in step.DependsOn ?? [])
            {
                if (!ids.Contains(dependency) || dependency == step.Id)
                {
                    add(at + ".dependsOn", $"'{dependency}' is not another step of this request.");
                }
            }

            if (StepRules.ModelProblem(step) is { } modelProblem)
            {
                add(at + ".model", modelProblem);
            }

            if (step.MaxAttempts is { } attempts && !StepRules.IsValidAttempts(attempts))
            {
                add(at + ".maxAttempts", $"must be between {StepRules.MinAttempts} and {StepRules.MaxAttempts}.");
            }

            if (step.Timeout is { } timeout && !StepRules.IsValidTimeout(timeout))
            {
                add(at + ".timeout", $"must be positive and at most {StepRules.MaxTimeout.TotalMinutes:0} minutes.");
            }
        }
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
