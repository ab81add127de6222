namespace Agents.Contracts.Operations;

/// <summary>Who may see and move dead letters (they can carry any tenant's data).</summary>
public static class DeadLetterAccess
{
    /// <summary>A platform operator sees every dead letter, whatever its tenant (or none).</summary>
    public const string PlatformOperatorRole = "platform-operator";

    /// <summary>A tenant admin sees only dead letters whose message names their tenant.</summary>
    public const string TenantAdminRole = "admin";

    /// <summary>True when <paramref name="principal"/> may use the dead-letter API at all.</summary>
    public static bool MayUse(AgentPrincipal principal) =>
        principal.Roles.Contains(PlatformOperatorRole, StringComparer.Ordinal) || principal.Roles.Contains(TenantAdminRole, StringComparer.Ordinal);

    /// <summary>True when <paramref name="principal"/> may see a dead letter of <paramref name="tenantId"/> (null: unknown tenant).</summary>
    public static bool MaySee(AgentPrincipal principal, string? tenantId) =>
        principal.Roles.Contains(PlatformOperatorRole, StringComparer.Ordinal)
        || (tenantId is not null && principal.Roles.Contains(TenantAdminRole, StringComparer.Ordinal) && string.Equals(principal.TenantId, tenantId, StringComparison.Ordinal));
}

/// <summary>A queue of a service and how many of its dead letters the caller may see.</summary>
/// <param name="Service">The service that owns the queue (filled in by the gateway).</param>
/// <param name="Queue">The endpoint's queue (its dead letters wait in <c>&lt;queue&gt;_error</c>).</param>
/// <param name="Messages">Dead letters in it that the caller may see.</param>
public sealed record DeadLetterQueueInfo(string? Service, string Queue, int Messages);

/// <summary>A dead-lettered message, without its body.</summary>
/// <param name="MessageId">The message's MessageId.</param>
/// <param name="MessageType">Message type URNs.</param>
/// <param name="TenantId">The tenant the message names (its <c>tenantId</c> or <c>principal.tenantId</c>); null when it names none.</param>
/// <param name="Reason">MassTransit's <c>MT-Reason</c> (usually <c>fault</c>).</param>
/// <param name="ExceptionType">The exception type of the last failure.</param>
/// <param name="ExceptionMessage">The exception message of the last failure.</param>
/// <param name="FirstFaultedAt">When the message first failed for good (kept across redeliveries).</param>
/// <param name="FaultedAt">When it last moved to the error queue.</param>
/// <param name="Redeliveries">How often it was redelivered from the error queue.</param>
public sealed record DeadLetterSummary(
    string? MessageId,
    string? MessageType,
    string? TenantId,
    string? Reason,
    string? ExceptionType,
    string? ExceptionMessage,
    string? FirstFaultedAt,
    string? FaultedAt,
    int Redeliveries);

/// <summary>A dead-lettered message with its body and the stack trace of its last failure.</summary>
/// <param name="Summary">What the list shows.</param>
/// <param name="StackTrace">The stack trace MassTransit recorded (<c>MT-Fault-StackTrace</c>).</param>
/// <param name="Body">The message as received (the MassTransit envelope).</param>
public sealed record DeadLetterMessage(DeadLetterSummary Summary, string? StackTrace, string Body);

/// <summary>How many dead letters a redelivery moved back to their queue.</summary>
public sealed record DeadLettersRedelivered(int Redelivered);
