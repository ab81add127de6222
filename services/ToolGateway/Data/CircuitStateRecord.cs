namespace Agents.ToolGateway.Data;

/// <summary>The states of a tool's circuit.</summary>
public enum CircuitState
{
    /// <summary>Calls go through.</summary>
    Closed,

    /// <summary>Calls are refused until the break ends.</summary>
    Open,

    /// <summary>The break ended; one trial call decides whether to close or open again.</summary>
    HalfOpen,
}

/// <summary>
/// A tool's circuit as last changed by a gateway instance, kept for visibility and restarts. The
/// authoritative state lives in memory per instance; this row is written on every change.
/// </summary>
public sealed class CircuitStateRecord
{
    public required string Tool { get; set; }

    public CircuitState State { get; set; }

    public int ConsecutiveFailures { get; set; }

    public DateTimeOffset? OpenedAt { get; set; }

    public DateTimeOffset? OpenUntil { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public required string UpdatedBy { get; set; }
}
