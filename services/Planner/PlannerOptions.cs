using System.ComponentModel.DataAnnotations;

namespace Agents.Planner;

/// <summary>Planner settings (section <c>Planner</c>).</summary>
public sealed class PlannerOptions
{
    public const string Section = "Planner";

    /// <summary>Largest number of steps a plan may have.</summary>
    [Range(1, 200, ErrorMessage = "Planner:MaxSteps must be between {1} and {2}.")]
    public int MaxSteps { get; set; } = 20;

    /// <summary>Model calls for one plan: the first attempt plus retries with the validation errors fed back.</summary>
    [Range(1, 10, ErrorMessage = "Planner:MaxPlanAttempts must be between {1} and {2} (model calls per plan, retries included).")]
    public int MaxPlanAttempts { get; set; } = 3;

    /// <summary>Revisions a task's plan may have after its first version.</summary>
    [Range(0, 20, ErrorMessage = "Planner:MaxRevisions must be between {1} and {2}.")]
    public int MaxRevisions { get; set; } = 2;

    /// <summary>Largest number of recalled memories put into a planning prompt.</summary>
    [Range(0, 50, ErrorMessage = "Planner:MaxMemoriesInPrompt must be between {1} and {2}.")]
    public int MaxMemoriesInPrompt { get; set; } = 10;
}
