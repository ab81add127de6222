using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Agents.Contracts;
using Microsoft.Extensions.Options;

namespace Agents.Tools.Mcp;

/// <summary>The MCP servers this host offers the tools of (section <c>Mcp</c>), validated at start.</summary>
public sealed class McpOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Mcp";

    /// <summary>The servers by name (lower-case letters, digits and '-'); a tool <c>t</c> of server <c>s</c> is offered as <c>mcp.s.t</c>.</summary>
    public Dictionary<string, McpServerOptions> Servers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How long to wait before connecting again to a server that could not be reached. Default 5 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00", ErrorMessage = "Mcp:ReconnectDelay must be between 00:00:00.100 and 00:10:00.")]
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>One MCP server: a command started with stdio, or a Streamable HTTP URL.</summary>
public sealed class McpServerOptions
{
    /// <summary>The executable of a stdio server (a name on <c>PATH</c> or a path).</summary>
    public string? Command { get; set; }

    /// <summary>Its arguments.</summary>
    public List<string> Arguments { get; set; } = [];

    /// <summary>Extra environment variables of a stdio server.</summary>
    public Dictionary<string, string> Environment { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The working directory of a stdio server.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>The Streamable HTTP endpoint of a remote server.</summary>
    public Uri? Url { get; set; }

    /// <summary>Headers sent to a remote server (for example its API key).</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The permission scope of the server's tools. Default <c>mcp.&lt;server&gt;</c>.</summary>
    public string? Scope { get; set; }

    /// <summary>How long one call may take. Default 30 seconds.</summary>
    [Range(1, 3600)]
    public int TimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// Per MCP tool name (as the server names it): overrides of what its annotations say, or
    /// <c>Enabled: false</c> to leave the tool out.
    /// </summary>
    public Dictionary<string, McpToolOverride> Tools { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>What configuration says about one MCP tool, over its annotations.</summary>
public sealed class McpToolOverride
{
    /// <summary>False leaves the tool out. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The side-effect class, instead of the one derived from the annotations.</summary>
    public SideEffectClass? SideEffect { get; set; }

    /// <summary>The risk tier, instead of the one derived from the annotations.</summary>
    public RiskTier? Risk { get; set; }

    /// <summary>The scope, instead of the server's.</summary>
    public string? Scope { get; set; }
}

internal sealed partial class McpOptionsValidator : IValidateOptions<McpOptions>
{
    public ValidateOptionsResult Validate(string? name, McpOptions options)
    {
        var failures = new List<string>();
        foreach (var (server, settings) in options.Servers)
        {
            if (!ServerName().IsMatch(server))
            {
                failures.Add($"Mcp:Servers:{server}: a server name is lower-case letters, digits and '-', starting with a letter, at most 20 characters.");
            }

            if (string.IsNullOrWhiteSpace(settings.Command) == (settings.Url is null))
            {
                failures.Add($"Mcp:Servers:{server}: set exactly one of Command (a stdio server) or Url (a Streamable HTTP server).");
            }

            if (settings.Url is { } url && (!url.IsAbsoluteUri || url.Scheme is not ("http" or "https")))
            {
                failures.Add($"Mcp:Servers:{server}:Url must be an absolute http or https URL.");
            }

            if (settings.TimeoutSeconds is < 1 or > 3600)
            {
                failures.Add($"Mcp:Servers:{server}:TimeoutSeconds must be between 1 and 3600.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex("^[a-z][a-z0-9-]{0,19}$")]
    private static partial Regex ServerName();
}
