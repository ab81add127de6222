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

    /// <summary>How often a running call's task is looked at. Default 200 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.020", "00:00:10", ErrorMessage = "Gateway:Mcp:PollInterval must be between 00:00:00.020 and 00:00:10.")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);
}
