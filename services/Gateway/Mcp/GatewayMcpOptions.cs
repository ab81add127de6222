using System.ComponentModel.DataAnnotations;

namespace Agents.Gateway.Mcp;

/// <summary>The gateway's MCP endpoint (section <c>Gateway:Mcp</c>).</summary>
public sealed class GatewayMcpOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Gateway:Mcp";

    /// <summary>How long <c>tools/call</c> follows its task before answering that it still runs. Default 2 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Gateway:Mcp:CallTimeout must be between 00:00:01 and 01:00:00.")]
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Web origins (scheme://host[:port]) whose pages may call the endpoint from a browser, besides this machine's own
    /// (localhost, 127.0.0.1, [::1]). A request with any other <c>Origin</c> is refused with 403 before anything runs,
    /// which keeps a page on a rebound name (DNS rebinding) from using the endpoint; requests without an <c>Origin</c>
    /// (clients that are not browsers) are not affected.
    /// </summary>
    public IList<string> AllowedOrigins { get; } = [];

    /// <summary>How often a running call's task is looked at. Default 200 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.020", "00:00:10", ErrorMessage = "Gateway:Mcp:PollInterval must be between 00:00:00.020 and 00:00:10.")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);
}
