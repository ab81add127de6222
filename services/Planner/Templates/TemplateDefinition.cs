using Agents.Planner.Planning;

namespace Agents.Planner.Templates;

/// <summary>A parameter a template takes. Optional parameters that are not given take <see cref="Default"/> (or empty text).</summary>
internal sealed record TemplateParameter(string Name, bool Required, string? Description = null, string? Default = null);

/// <summary>The body of <c>PUT /api/templates/{name}</c> and the stored content of a template version.</summary>
internal sealed record TemplateDefinition(string? Description, IReadOnlyList<TemplateParameter>? Parameters, IReadOnlyList<StepDocument>? Steps);

/// <summary>A stored template version as the API shows it.</summary>
internal sealed record TemplateView(
    string Name,
    int Version,
    string Description,
    IReadOnlyList<TemplateParameter> Parameters,
    IReadOnlyList<StepDocument>? Steps,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    bool BuiltIn);
