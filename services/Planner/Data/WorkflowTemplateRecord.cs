namespace Agents.Planner.Data;

/// <summary>
/// One version of a workflow template of one tenant (or a built-in one, tenant <see cref="BuiltIn"/>, which every
/// tenant may read and run but not change). A change adds a version; the newest is used for new plans; retiring adds
/// a version marked <see cref="Retired"/>.
/// </summary>
internal sealed class WorkflowTemplateRecord
{
    /// <summary>The tenant of the built-in templates.</summary>
    public const string BuiltIn = "";

    public required string TenantId { get; set; }

    public required string Name { get; set; }

    public int Version { get; set; }

    public required string Description { get; set; }

    /// <summary>The parameters (list of <see cref="Templates.TemplateParameter"/>) as JSON.</summary>
    public required string ParametersJson { get; set; }

    /// <summary>The steps (list of <see cref="Planning.StepDocument"/>) as JSON.</summary>
    public required string StepsJson { get; set; }

    public required string CreatedBy { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>True on the version that retired the template: it is no longer listed, read or run (its history stays).</summary>
    public bool Retired { get; set; }
}
