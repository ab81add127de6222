namespace Agents.Tools.Sdk;

/// <summary>
/// An expected tool failure. The message goes back to the caller as the error, so write it for a
/// person (or a planner model) to act on. <see cref="Transient"/> tells the tool-gateway and the
/// executor whether trying the same call again can succeed.
/// </summary>
public sealed class ToolException : Exception
{
    /// <summary>Creates a failure with a message and whether a retry can help.</summary>
    public ToolException(string message, bool transient)
        : base(message)
    {
        Transient = transient;
    }

    /// <summary>Creates a permanent failure (a retry with the same arguments will fail the same way).</summary>
    public ToolException(string message)
        : this(message, transient: false)
    {
    }

    /// <summary>Creates a failure with an underlying cause.</summary>
    public ToolException(string message, Exception innerException, bool transient)
        : base(message, innerException)
    {
        Transient = transient;
    }

    /// <summary>Creates a permanent failure with an underlying cause.</summary>
    public ToolException(string message, Exception innerException)
        : this(message, innerException, transient: false)
    {
    }

    /// <summary>Creates a permanent failure without a message (prefer one that names the problem).</summary>
    public ToolException()
    {
    }

    /// <summary>True when retrying the same call may succeed (a dependency was unavailable, a timeout).</summary>
    public bool Transient { get; }
}
