using System.ComponentModel.DataAnnotations;

namespace Agents.Governance;

/// <summary>Governance service settings (section <c>Governance</c>).</summary>
public sealed class GovernanceOptions
{
    public const string Section = "Governance";

    /// <summary>How often the approval sweeper looks for due approvals and unpublished decisions.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00", ErrorMessage = "Governance:SweepInterval must be between 50 ms and 10 minutes.")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Approvals expired or decisions republished per sweep transaction.</summary>
    [Range(1, 1000, ErrorMessage = "Governance:SweepBatchSize must be between {1} and {2}.")]
    public int SweepBatchSize { get; set; } = 50;

    /// <summary>A decision not yet published after this long is published again by the sweeper.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Governance:RepublishAfter must be between 1 second and 1 hour.")]
    public TimeSpan RepublishAfter { get; set; } = TimeSpan.FromSeconds(10);
}
