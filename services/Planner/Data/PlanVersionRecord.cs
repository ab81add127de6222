namespace Agents.Planner.Data;

/// <summary>One stored version of a task's plan. A revision adds a row; earlier versions are never changed.</summary>
internal sealed class PlanVersionRecord
{
    public Guid PlanId { get; set; }

    public int Version { get; set; }

    public Guid TaskId { get; set; }

    public required string TenantId { get; set; }

    public required string UserId { get; set; }

    /// <summary>How this version was made: <c>goal</c>, <c>template</c>, <c>steps</c> or <c>revision</c>.</summary>
    public required string Source { get; set; }

    /// <summary>The steps (contract <see cref="Contracts.PlanStep"/> list) as JSON.</summary>
    public required string StepsJson { get; set; }

    public string? Rationale { get; set; }

    public string? Goal { get; set; }

    public string? TemplateName { get; set; }

    public int? TemplateVersion { get; set; }

    /// <summary>The side of the template's rollout the task fell on (<c>stable</c>, <c>candidate</c>), or null without a rollout.</summary>
    public string? Rollout { get; set; }

    /// <summary>The task's parameters as a JSON object (kept so revisions validate the same references).</summary>
    public string? ParametersJson { get; set; }

    /// <summary>The task's allowed tools as a JSON array, or null for every known tool.</summary>
    public string? AllowedToolsJson { get; set; }

    /// <summary>For a revision: the step that failed and why.</summary>
    public string? RevisionReason { get; set; }

    /// <summary>Model calls it took (0 when no model was asked).</summary>
    public int ModelAttempts { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}
