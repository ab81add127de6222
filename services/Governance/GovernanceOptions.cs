using System.ComponentModel.DataAnnotations;

namespace Agents.Governance;

/// <summary>Governance service settings (section <c>Governance</c>).</summary>
public sealed class GovernanceOptions
{
    public const string Section = "Governance";

    /// <summary>How often the approval sweeper looks for due approvals.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00", ErrorMessage = "Governance:SweepInterval must be between 50 ms and 10 minutes.")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often pending approvals, kill switches and daily budgets are measured for the metrics.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Governance:MetricsInterval must be between 100 ms and 1 hour.")]
    public TimeSpan MetricsInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Approvals expired (or escalated) per sweep transaction.</summary>
    [Range(1, 1000, ErrorMessage = "Governance:SweepBatchSize must be between {1} and {2}.")]
    public int SweepBatchSize { get; set; } = 50;

    /// <summary>
    /// How long governance keeps its own bookkeeping: the keys that recognise a message handled before
    /// (<c>processed_messages</c>, which outlive the messaging inbox's window) and model-call reservations
    /// (<c>model_reservations</c>). The ledger, approvals and the audit trail are records and are never removed.
    /// </summary>
    [Range(typeof(TimeSpan), "1.00:00:00", "3650.00:00:00", ErrorMessage = "Governance:BookkeepingRetention must be between 1 day and 10 years.")]
    public TimeSpan BookkeepingRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How often the watchdog looks at each tenant's recent decisions for anomalies.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Governance:WatchdogInterval must be between 100 ms and 1 hour.")]
    public TimeSpan WatchdogInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The window of recent decisions the watchdog judges (and within which one anomaly raises one alert).</summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00", ErrorMessage = "Governance:WatchdogWindow must be between 10 seconds and 1 day.")]
    public TimeSpan WatchdogWindow { get; set; } = TimeSpan.FromMinutes(5);
}
