namespace Agents.Messaging.TestHost.Contracts;

public sealed record DoWork(Guid WorkId);

public sealed record WorkDone(Guid WorkId);

public sealed record Increment(Guid CounterId);

public sealed record Poison(Guid Id, string Reason, string? TenantId = null);

public sealed record Reminder(Guid Id);

public sealed record Ping(Guid Id, DateTime CommittedAt);

public sealed record Relay(Guid Id);

public sealed record Tally(Guid Id, bool Fail = false);

/// <summary>Asks <c>ForwardConsumer</c> to send <see cref="Forwarded"/> on to <paramref name="To"/> as an answer to this request.</summary>
public sealed record Forward(Guid Id, Uri To);

/// <summary>Sent on by <c>ForwardConsumer</c>, carrying the request id and the response address of the <see cref="Forward"/>.</summary>
public sealed record Forwarded(Guid Id);

/// <summary>The answer to a <see cref="Forwarded"/>, which answers the original <see cref="Forward"/> request.</summary>
public sealed record ForwardAnswered(Guid Id);
