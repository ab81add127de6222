using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Agents.Messaging;

/// <summary>Database errors that a fresh attempt of the same message resolves.</summary>
internal static class ConflictDetection
{
    public static bool IsRetryableConflict(Exception exception) => exception switch
    {
        DbUpdateConcurrencyException => true,
        PostgresException pg => pg.SqlState is PostgresErrorCodes.UniqueViolation
            or PostgresErrorCodes.SerializationFailure
            or PostgresErrorCodes.DeadlockDetected,
        DbUpdateException { InnerException: { } inner } => IsRetryableConflict(inner),
        InvalidOperationException { InnerException: { } inner } => IsRetryableConflict(inner),
        _ => false,
    };

    /// <summary>A short, growing, jittered pause so that conflicting attempts spread out.</summary>
    public static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Random.Shared.Next(1, 5 + (Math.Min(attempt, 10) * 5)));
}
