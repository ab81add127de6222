namespace Agents.ServiceDefaults.Messaging;

/// <summary>
/// A failure that retrying cannot fix (a malformed or invalid message). The bus conventions
/// skip retries for it, so the message goes straight to its endpoint's <c>_error</c> queue
/// with this exception's message as the reason.
/// </summary>
public sealed class PermanentFailureException : Exception
{
    /// <summary>Creates the exception with the reason a person can act on.</summary>
    public PermanentFailureException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a reason and the underlying cause.</summary>
    public PermanentFailureException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception without a reason (prefer one that names the problem).</summary>
    public PermanentFailureException()
    {
    }
}
