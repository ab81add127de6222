using System.ComponentModel.DataAnnotations;

namespace Agents.Gateway.WebConsole;

/// <summary>Web console settings (section <c>Gateway:Console</c>).</summary>
public sealed class ConsoleOptions
{
    public const string Section = "Gateway:Console";

    /// <summary>
    /// A trace UI's address for one trace, with <c>{traceId}</c> where the W3C trace id goes (Jaeger:
    /// <c>http://jaeger:16686/trace/{traceId}</c>; Grafana Tempo: its explore URL). The task page links the task's trace
    /// id to it; without it, the id is shown alone.
    /// </summary>
    [RegularExpression(@"^https?://[^\s]*\{traceId\}[^\s]*$", ErrorMessage = "Gateway:Console:TraceUrl must be an http(s) URL holding {traceId}, e.g. http://127.0.0.1:16686/trace/{traceId}.")]
    public string? TraceUrl { get; set; }
}

/// <summary>What the console needs to know of its gateway's settings: <c>GET /api/console/settings</c>.</summary>
public sealed record ConsoleSettingsView(string? TraceUrl);
