using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Agents.ToolGateway;

/// <summary>How the tool-gateway calls tools (section <c>ToolGateway</c>).</summary>
public sealed class ToolGatewayOptions
{
    public const string Section = "ToolGateway";

    /// <summary>Attempts per call (first try included) for ReadOnly/Idempotent tools; Mutating tools always get one.</summary>
    [Range(1, 10, ErrorMessage = "ToolGateway:MaxAttempts must be between {1} and {2}.")]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>
    /// How long a tool's registry row is used from memory before it is read again (<see cref="Invocation.ToolLookup"/>):
    /// a change made through another replica (an announcement, a retirement) reaches this one at the latest after it.
    /// Zero reads the row for every call.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00", ErrorMessage = "ToolGateway:RegistryCacheTtl must be between {1} and {2}.")]
    public TimeSpan RegistryCacheTtl { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Backoff before the second attempt; doubles per attempt, capped by <see cref="MaxDelay"/>, with jitter.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00", ErrorMessage = "ToolGateway:BaseDelay must be between {1} and {2}.")]
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Largest backoff between attempts.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:05:00", ErrorMessage = "ToolGateway:MaxDelay must be between {1} and {2}.")]
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive transient failures or timeouts of one tool that open its circuit.</summary>
    [Range(1, 1000, ErrorMessage = "ToolGateway:CircuitFailureThreshold must be between {1} and {2}.")]
    public int CircuitFailureThreshold { get; set; } = 5;

    /// <summary>How long an open circuit refuses calls before one trial call is let through (half-open).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "ToolGateway:CircuitBreakDuration must be between {1} and {2}.")]
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long one request to governance for an authorization waits before it is asked again (same request key). A
    /// request that carries the call for governance to send on to the tool waits this plus the tool's timeout.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00", ErrorMessage = "ToolGateway:AuthorizationTimeout must be between {1} and {2}.")]
    public TimeSpan AuthorizationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long governance that does not answer (slow, restarting) is asked again, each time with the same request key,
    /// before the call fails as not authorized (never as denied: a denial is only ever governance's decision).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00", ErrorMessage = "ToolGateway:AuthorizationPatience must be between {1} and {2}.")]
    public TimeSpan AuthorizationPatience { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Timeout of one attempt for a tool that announces no timeout (TimeoutSeconds &lt;= 0).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "ToolGateway:DefaultToolTimeout must be between {1} and {2}.")]
    public TimeSpan DefaultToolTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Upper bound on any tool's own timeout, whatever it announces.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "ToolGateway:MaxToolTimeout must be between {1} and {2}.")]
    public TimeSpan MaxToolTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Largest tool output (UTF-8 bytes of OutputJson) passed on; a larger output fails the call.</summary>
    [Range(1024, 16 * 1024 * 1024, ErrorMessage = "ToolGateway:MaxOutputBytes must be between {1} and {2}.")]
    public int MaxOutputBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// A tool not announced for longer than this is stale: listed as such, and calls to it fail at once. Tool hosts
    /// announce every minute by default (<c>Tools:AnnounceInterval</c>), so the default allows two missed announcements.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00", ErrorMessage = "ToolGateway:StaleAfter must be between {1} and {2}.")]
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// The tenants whose admins operate the registry (retire and reinstate tools, reset circuits). The registry is shared
    /// by every tenant, so an ordinary tenant's admin may not change it. Empty: no one may.
    /// </summary>
    public string[] OperatorTenants { get; set; } = [];

    /// <summary>
    /// The longest a call can take: every attempt's authorization (the first request waits for the tool too; governance
    /// is asked again until the patience has passed, the last request for one more timeout), tool timeout and backoff,
    /// plus a minute. A call still running after that is taken to be lost, and a new InvokeTool for its key runs it again.
    /// </summary>
    public TimeSpan LongestCall =>
        ((Max(AuthorizationPatience, AuthorizationTimeout + MaxToolTimeout) + AuthorizationTimeout + MaxToolTimeout + MaxDelay) * MaxAttempts) + TimeSpan.FromMinutes(1);

    /// <summary>The timeout of one attempt of a tool that announced <paramref name="toolTimeoutSeconds"/>.</summary>
    public TimeSpan ToolTimeout(int toolTimeoutSeconds)
    {
        var timeout = toolTimeoutSeconds > 0 ? TimeSpan.FromSeconds(toolTimeoutSeconds) : DefaultToolTimeout;
        return timeout > MaxToolTimeout ? MaxToolTimeout : timeout;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}

internal sealed class ToolGatewayOptionsValidator : IValidateOptions<ToolGatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, ToolGatewayOptions options)
    {
        var failures = new List<string>();
        if (options.BaseDelay > options.MaxDelay)
        {
            failures.Add($"ToolGateway:BaseDelay ({options.BaseDelay}) must not be larger than ToolGateway:MaxDelay ({options.MaxDelay}).");
        }

        if (options.DefaultToolTimeout > options.MaxToolTimeout)
        {
            failures.Add($"ToolGateway:DefaultToolTimeout ({options.DefaultToolTimeout}) must not be larger than ToolGateway:MaxToolTimeout ({options.MaxToolTimeout}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
