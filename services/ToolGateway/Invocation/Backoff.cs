namespace Agents.ToolGateway.Invocation;

/// <summary>
/// Exponential backoff with jitter: before attempt n+1 the gateway waits a random time between half
/// and all of <c>min(MaxDelay, BaseDelay * 2^(n-1))</c>, so many callers that failed together do not
/// come back together.
/// </summary>
public static class Backoff
{
    /// <summary>The wait after failed attempt <paramref name="attempt"/> (1-based); <paramref name="random"/> in [0, 1).</summary>
    public static TimeSpan Delay(int attempt, TimeSpan baseDelay, TimeSpan maxDelay, double random)
    {
        var exponent = Math.Min(Math.Max(attempt - 1, 0), 30);
        var ceiling = Math.Min(baseDelay.TotalMilliseconds * Math.Pow(2, exponent), maxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds((ceiling / 2) + (random * ceiling / 2));
    }
}
