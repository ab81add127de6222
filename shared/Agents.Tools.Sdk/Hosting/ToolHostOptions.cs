using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Agents.Tools.Sdk.Hosting;

/// <summary>Settings of a tool host (section <c>Tools</c>), validated at start.</summary>
public sealed class ToolHostOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Tools";

    /// <summary>How often the host re-announces its tools (<c>Tools:AnnounceInterval</c>). Default 1 minute.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Tools:AnnounceInterval must be between 00:00:01 and 01:00:00.")]
    public TimeSpan AnnounceInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a duplicate call waits for an in-flight call with the same idempotency key before
    /// answering a transient failure (<c>Tools:DuplicateWait</c>). Default 30 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00", ErrorMessage = "Tools:DuplicateWait must be between 00:00:00.100 and 00:10:00.")]
    public TimeSpan DuplicateWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether calls of ReadOnly tools go through the ledger too (<c>Tools:LedgerReadOnlyCalls</c>). Default false: a read
    /// changes nothing, so running it again is harmless, and the tool-gateway's call record already answers a repeated
    /// call that succeeded; skipping the ledger spares each read five database round trips and two commits. Set it when
    /// a read must be answered from a stored result (the same output for the same idempotency key, counted executions).
    /// </summary>
    public bool LedgerReadOnlyCalls { get; set; }

    /// <summary>This instance's name in announcements (<c>Tools:Instance</c>); default host name and process id.</summary>
    [MaxLength(200, ErrorMessage = "Tools:Instance must be at most 200 characters.")]
    public string? Instance { get; set; }

    /// <summary>
    /// Testing aid, per tool name (<c>Tools:FaultInjection:&lt;tool&gt;:FailFirst</c>, <c>…:AlwaysFail</c>,
    /// <c>…:Delay</c>): make a tool fail transiently or slow it down. Never set it in production.
    /// </summary>
    public Dictionary<string, FaultInjectionSettings> FaultInjection { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>Fault injection for one tool (a testing aid).</summary>
public sealed class FaultInjectionSettings
{
    /// <summary>The first N executions in this process fail with a transient error, then the tool runs normally.</summary>
    public int FailFirst { get; set; }

    /// <summary>Every execution fails with a transient error (to open the tool's circuit in the gateway).</summary>
    public bool AlwaysFail { get; set; }

    /// <summary>Extra time before every execution (counts against the tool's timeout).</summary>
    public TimeSpan Delay { get; set; }
}

internal sealed class ToolHostOptionsValidator(IEnumerable<ToolDefinition> tools) : IValidateOptions<ToolHostOptions>
{
    public ValidateOptionsResult Validate(string? name, ToolHostOptions options)
    {
        var failures = new List<string>();
        var known = tools.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (tool, settings) in options.FaultInjection)
        {
            if (!known.Contains(tool))
            {
                failures.Add($"Tools:FaultInjection:{tool} names no tool of this host (tools: {string.Join(", ", known)}).");
            }

            if (settings.FailFirst < 0)
            {
                failures.Add($"Tools:FaultInjection:{tool}:FailFirst must not be negative.");
            }

            if (settings.Delay < TimeSpan.Zero)
            {
                failures.Add($"Tools:FaultInjection:{tool}:Delay must not be negative.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
