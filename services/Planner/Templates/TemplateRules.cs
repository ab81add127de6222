using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Agents.Contracts;
using Agents.Planner.Data;
using Agents.Planner.Planning;

namespace Agents.Planner.Templates;

/// <summary>Checking template definitions and expanding a stored template into plan steps.</summary>
internal static partial class TemplateRules
{
    public const int MaxDescriptionLength = 2000;
    public const int MaxParameters = 50;
    public const int MaxDefaultLength = 4000;

    public static bool IsValidName(string? name) => name is not null && NamePattern().IsMatch(name);

    /// <summary>Checks a template before it is stored: its parameters, and its steps as a plan over the declared parameters.</summary>
    public static IReadOnlyList<string> Validate(string name, TemplateDefinition? definition, IReadOnlyDictionary<string, ToolSummary> catalog, int maxSteps)
    {
        var errors = new List<string>();
        if (!IsValidName(name))
        {
            errors.Add($"template name '{name}' must start with a lower-case letter and contain only lower-case letters, digits and '-' (at most 64).");
        }

        if (definition is null)
        {
            errors.Add("the body must be a JSON object with description, parameters and steps.");
            return errors;
        }

        if (definition.Description is { Length: > MaxDescriptionLength })
        {
            errors.Add($"description: {definition.Description.Length} characters; at most {MaxDescriptionLength} are allowed.");
        }

        if (definition.Parameters is { Count: > MaxParameters })
        {
            errors.Add($"parameters: {definition.Parameters.Count} declared; at most {MaxParameters} are allowed.");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var parameter in definition.Parameters ?? [])
        {
            if (parameter?.Description is { Length: > MaxDescriptionLength } || parameter?.Default is { Length: > MaxDefaultLength })
            {
                errors.Add($"parameter '{parameter.Name}': the description may have at most {MaxDescriptionLength} characters and the default at most {MaxDefaultLength}.");
            }

            if (parameter is null || !ParameterPattern().IsMatch(parameter.Name ?? string.Empty))
            {
                errors.Add($"parameter '{parameter?.Name}': the name must start with a letter or '_' and contain only letters, digits, '_' and '-'.");
            }
            else if (!names.Add(parameter.Name!))
            {
                errors.Add($"parameter '{parameter.Name}': declared twice.");
            }
            else if (parameter.Required && parameter.Default is not null)
            {
                errors.Add($"parameter '{parameter.Name}': a required parameter cannot have a default.");
            }
        }

        if (definition.Steps is null || definition.Steps.Count == 0)
        {
            errors.Add("the template has no steps; it needs at least one.");
            return errors;
        }

        var steps = StepDocument.ToPlanSteps(definition.Steps, errors);
        errors.AddRange(PlanValidator.Validate(steps, new PlanValidationContext(catalog, null, names, maxSteps)));
        return errors;
    }

    /// <summary>
    /// The steps of <paramref name="template"/> for the given parameters. Missing required or unknown parameters are
    /// reported in <paramref name="errors"/>. Given parameters stay as <c>{{params.name}}</c> references (the executor
    /// resolves them); optional parameters that were not given are replaced by their default.
    /// </summary>
    public static IReadOnlyList<PlanStep> Expand(WorkflowTemplateRecord template, IReadOnlyDictionary<string, string>? given, List<string> errors)
    {
        given ??= new Dictionary<string, string>();
        var parameters = JsonSerializer.Deserialize<List<TemplateParameter>>(template.ParametersJson, PlannerJson.Options) ?? [];
        var declared = parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

        foreach (var parameter in parameters.Where(p => p.Required && (!given.TryGetValue(p.Name, out var value) || string.IsNullOrWhiteSpace(value))))
        {
            errors.Add($"missing required parameter '{parameter.Name}' for template '{template.Name}'{(parameter.Description is null ? "" : $" ({parameter.Description})")}.");
        }

        foreach (var unknown in given.Keys.Where(k => !declared.Contains(k)).Order(StringComparer.Ordinal))
        {
            errors.Add($"unknown parameter '{unknown}' for template '{template.Name}' (it takes: {(declared.Count == 0 ? "no parameters" : string.Join(", ", declared))}).");
        }

        var defaults = parameters
            .Where(p => !p.Required && !given.ContainsKey(p.Name))
            .ToDictionary(p => p.Name, p => p.Default ?? string.Empty, StringComparer.Ordinal);

        var documents = JsonSerializer.Deserialize<List<StepDocument>>(template.StepsJson, PlannerJson.Options) ?? [];
        var steps = StepDocument.ToPlanSteps(documents, errors);
        return defaults.Count == 0 ? steps : steps.Select(s => s with
        {
            ArgumentsJson = s.ArgumentsJson is null ? null : ReplaceInJson(s.ArgumentsJson, defaults),
            Prompt = s.Prompt is null ? null : StepReferences.ReplaceParameters(s.Prompt, defaults),
        }).ToList();
    }

    /// <summary>Replaces parameters inside the JSON's string values, so the values are escaped correctly.</summary>
    internal static string ReplaceInJson(string json, IReadOnlyDictionary<string, string> values)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException)
        {
            return json; // reported by validation
        }

        if (root is JsonObject or JsonArray)
        {
            ReplaceIn(root, values);
        }

        return root?.ToJsonString() ?? json;
    }

    private static void ReplaceIn(JsonNode container, IReadOnlyDictionary<string, string> values)
    {
        if (container is JsonObject obj)
        {
            foreach (var key in obj.Select(p => p.Key).ToList())
            {
                obj[key] = ReplaceChild(obj[key], values);
            }
        }
        else if (container is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++)
            {
                array[i] = ReplaceChild(array[i], values);
            }
        }
    }

    private static JsonNode? ReplaceChild(JsonNode? child, IReadOnlyDictionary<string, string> values)
    {
        if (child is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            return JsonValue.Create(StepReferences.ReplaceParameters(value.GetValue<string>(), values));
        }

        if (child is not null)
        {
            ReplaceIn(child, values);
            child = child.DeepClone(); // detached copy, so it can be assigned back
        }

        return child;
    }

    [GeneratedRegex("^[a-z][a-z0-9-]{0,63}$")]
    private static partial Regex NamePattern();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]
    private static partial Regex ParameterPattern();
}
