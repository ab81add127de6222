namespace Agents.Models.Deterministic;

/// <summary>
/// Deterministic failure and latency injection, so that retry, timeout and circuit-breaker paths can be
/// tested without a real model. Bound from <c>Models:{Role}:Deterministic</c>. All off by default.
/// </summary>
public sealed class DeterministicModelSettings
{
    /// <summary>The first N calls to the client throw <see cref="DeterministicModelException"/>; later calls succeed.</summary>
    public int FailFirstCalls { get; set; }

    /// <summary>Every call waits this long (on the client's <see cref="TimeProvider"/>) before answering.</summary>
    public int LatencyMilliseconds { get; set; }

    /// <summary>Every call whose prompt contains this text throws <see cref="DeterministicModelException"/>.</summary>
    public string? FailWhenPromptContains { get; set; }
}

/// <summary>A failure injected by <see cref="DeterministicModelSettings"/>, or reported by a responder.</summary>
public sealed class DeterministicModelException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public DeterministicModelException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public DeterministicModelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
