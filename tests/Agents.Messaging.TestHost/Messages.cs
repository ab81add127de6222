namespace Agents.Messaging.TestHost.Contracts;

public sealed record DoWork(Guid WorkId);

public sealed record WorkDone(Guid WorkId);

public sealed record Increment(Guid CounterId);

public sealed record Poison(Guid Id, string Reason, string? TenantId = null);

public sealed record Reminder(Guid Id);

public sealed record Ping(Guid Id, DateTime CommittedAt);

public sealed record Relay(Guid Id);

public sealed record Tally(Guid Id, bool Fail = false);
