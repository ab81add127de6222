using Agents.Contracts;

namespace Agents.Tools.Sdk;

/// <summary>
/// Declares the class of an input argument (a property or positional record parameter of the input type): whether it
/// steers the call (<see cref="ArgumentClass.Control"/>: a recipient, a customer id, an amount, a URL, a query) or is
/// content the call carries (<see cref="ArgumentClass.Data"/>: a ticket body, a summary). Undeclared arguments are
/// Control, the safe side: governance lets untrusted values reach a Data argument only where the tenant's policy says so.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter, Inherited = false)]
public sealed class ArgumentAttribute(ArgumentClass @class) : Attribute
{
    /// <summary>The argument's class.</summary>
    public ArgumentClass Class { get; } = @class;
}

/// <summary>
/// Marks an output field (a property or positional record parameter of the output type) as outside content in an
/// otherwise trusted output: text a customer or another outsider wrote (an issue title, a comment). Values read from
/// it are untrusted; the rest of the output is not. For a tool whose whole output is outside content use
/// <see cref="ToolAttribute.ReturnsUntrustedContent"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter, Inherited = false)]
public sealed class UntrustedContentAttribute : Attribute;
