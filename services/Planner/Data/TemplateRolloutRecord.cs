namespace Agents.Planner.Data;

/// <summary>
/// A tenant's rollout of one of its templates: new tasks plan with <see cref="CandidateVersion"/> in
/// <see cref="Percent"/> of cases and with <see cref="StableVersion"/> otherwise; which side a task falls on follows
/// from its id, so a task (and a replay of it) always lands on the same side. While a rollout is set, a newly stored
/// version serves no task until a rollout names it; without one, the newest version serves every task.
/// </summary>
internal sealed class TemplateRolloutRecord
{
    public required string TenantId { get; set; }

    public required string Name { get; set; }

    public int StableVersion { get; set; }

    public int CandidateVersion { get; set; }

    /// <summary>0–100: the share of new tasks that plan with the candidate (0: a rollback, every task on the stable version).</summary>
    public int Percent { get; set; }

    public required string UpdatedBy { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
