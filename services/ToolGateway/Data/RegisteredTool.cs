using Agents.Contracts;

namespace Agents.ToolGateway.Data;

/// <summary>A tool in the registry, as last announced by one of its instances.</summary>
public sealed class RegisteredTool
{
    public required string Name { get; set; }

    public required string Description { get; set; }

    public required string InputSchema { get; set; }

    public required string OutputSchema { get; set; }

    public SideEffectClass SideEffect { get; set; }

    public RiskTier Risk { get; set; }

    public required string RequiredScope { get; set; }

    public bool Compensable { get; set; }

    public bool ReturnsUntrustedContent { get; set; }

    /// <summary>Top-level output fields that are untrusted in an otherwise trusted output.</summary>
    public string[] UntrustedOutputFields { get; set; } = [];

    /// <summary>The declared class of each argument that has one (the others are Control).</summary>
    public Dictionary<string, ArgumentClass> ArgumentClasses { get; set; } = new(StringComparer.Ordinal);

    /// <summary>True when a call carries its arguments outside the platform (egress).</summary>
    public bool SendsDataOut { get; set; }

    public int TimeoutSeconds { get; set; }

    public required string Version { get; set; }

    /// <summary>The instance that announced last.</summary>
    public required string Instance { get; set; }

    public DateTimeOffset FirstSeenAt { get; set; }

    /// <summary>When the latest announcement was made (the announcer's clock).</summary>
    public DateTimeOffset LastSeenAt { get; set; }

    /// <summary>When an operator retired the tool: it is no longer offered nor called, whatever it announces, until reinstated.</summary>
    public DateTimeOffset? RetiredAt { get; set; }

    /// <summary>Who retired it (tenant/user).</summary>
    public string? RetiredBy { get; set; }

    /// <summary>
    /// Whether the output of a call is untrusted, and which of its fields are when only some are. A tool the registry
    /// does not know gets the safe answer: all of it.
    /// </summary>
    public static (bool Untrusted, IReadOnlyList<string>? Fields) OutputTrust(RegisteredTool? tool) =>
        tool is null || tool.ReturnsUntrustedContent ? (true, null) : (false, tool.UntrustedOutputFields.Length > 0 ? tool.UntrustedOutputFields : null);

    public void Apply(ToolAnnounced announced)
    {
        var tool = announced.Tool;
        Description = tool.Description;
        InputSchema = tool.InputSchema;
        OutputSchema = tool.OutputSchema;
        SideEffect = tool.SideEffect;
        Risk = tool.Risk;
        RequiredScope = tool.RequiredScope;
        Compensable = tool.Compensable;
        ReturnsUntrustedContent = tool.ReturnsUntrustedContent;
        UntrustedOutputFields = [.. tool.UntrustedOutputFields ?? []];
        ArgumentClasses = tool.ArgumentClasses is null ? new(StringComparer.Ordinal) : new(tool.ArgumentClasses, StringComparer.Ordinal);
        SendsDataOut = tool.SendsDataOut;
        TimeoutSeconds = tool.TimeoutSeconds;
        Version = tool.Version;
        Instance = announced.Instance;
        LastSeenAt = announced.AnnouncedAt;
    }
}
