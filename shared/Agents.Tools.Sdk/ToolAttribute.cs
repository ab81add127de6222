using Agents.Contracts;

namespace Agents.Tools.Sdk;

/// <summary>
/// Describes a tool class: the metadata announced to the registry and used by governance.
/// Whether the tool is compensable follows from implementing <see cref="ICompensableTool{TInput,TOutput}"/>.
/// </summary>
/// <param name="name">The tool's name: lower-case letters, digits, '.', '-', '_' (e.g. <c>crm.lookup-customer</c>).</param>
/// <param name="description">What the tool does, written for the planner model and for people.</param>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ToolAttribute(string name, string description) : Attribute
{
    /// <summary>The tool's unique name; also names its queue (<see cref="ToolEndpoints.QueueName"/>).</summary>
    public string Name { get; } = name;

    /// <summary>What the tool does.</summary>
    public string Description { get; } = description;

    /// <summary>What calling the tool does to the world. Default <see cref="SideEffectClass.ReadOnly"/>.</summary>
    public SideEffectClass SideEffect { get; set; } = SideEffectClass.ReadOnly;

    /// <summary>Risk tier for policies. Default <see cref="RiskTier.Low"/>.</summary>
    public RiskTier Risk { get; set; } = RiskTier.Low;

    /// <summary>The permission scope a caller needs, e.g. <c>crm.read</c>. Required.</summary>
    public string Scope { get; set; } = string.Empty;

    /// <summary>True when the output contains content from outside (web pages, e-mails): always treated as untrusted data.</summary>
    public bool ReturnsUntrustedContent { get; set; }

    /// <summary>
    /// True when a call sends its arguments outside the platform (fetching a URL, a search query): its Control arguments
    /// are then an egress, and governance decides untrusted values in them as it decides a mutating call's.
    /// </summary>
    public bool SendsDataOut { get; set; }

    /// <summary>How long one execution may take before it is cancelled and reported as a transient failure. Default 30.</summary>
    public int TimeoutSeconds { get; set; } = 30;

    /// <summary>The tool's version; defaults to the tool assembly's version.</summary>
    public string? Version { get; set; }
}
