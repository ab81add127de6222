namespace Agents.Planner.Data;

/// <summary>One version of a workflow template. A change adds a version; the newest is used for new plans.</summary>
internal sealed class WorkflowTemplateRecord
{
    public required string Name { get; set; }

    public int Version { get; set; }

    public required string Description { get; set; }

    /// <summary>The parameters (list of <see cref="Templates.TemplateParameter"/>) as JSON.</summary>
    public required string ParametersJson { get; set; }

    /// <summary>The steps (list of <see cref="Planning.StepDocument"/>) as JSON.</summary>
    public required string StepsJson { get; set; }

    public required string CreatedBy { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}
