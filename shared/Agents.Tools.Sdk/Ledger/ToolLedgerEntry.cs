namespace Agents.Tools.Sdk.Ledger;

/// <summary>
/// One row of a tool host's ledger (table <c>tool_ledger</c>): the record of one operation
/// (<see cref="LedgerOperations.Execute"/> or <see cref="LedgerOperations.Compensate"/>) for one
/// idempotency key of one tool.
/// </summary>
public sealed class ToolLedgerEntry
{
    /// <summary>The tool's name.</summary>
    public required string Tool { get; set; }

    /// <summary>The idempotency key of the call.</summary>
    public required string IdempotencyKey { get; set; }

    /// <summary><c>execute</c> or <c>compensate</c>.</summary>
    public required string Operation { get; set; }

    /// <summary>Tenant of the first call with this key; later calls from another tenant are refused.</summary>
    public required string TenantId { get; set; }

    /// <summary>User of the first call.</summary>
    public required string UserId { get; set; }

    /// <summary>Task of the first call.</summary>
    public Guid TaskId { get; set; }

    /// <summary>Step of the first call.</summary>
    public required string StepId { get; set; }

    /// <summary>Call id of the latest delivery that ran (or replayed) the operation.</summary>
    public Guid LastCallId { get; set; }

    /// <summary>SHA-256 of the canonical arguments; a repeated key with other arguments is refused.</summary>
    public required string ArgumentsHash { get; set; }

    /// <summary>The arguments (JSON), kept for compensation.</summary>
    public required string Arguments { get; set; }

    /// <summary>See <see cref="LedgerStatuses"/>.</summary>
    public required string Status { get; set; }

    /// <summary>The output JSON once succeeded.</summary>
    public string? Output { get; set; }

    /// <summary>The error once failed.</summary>
    public string? Error { get; set; }

    /// <summary>Times the SDK started the operation (including injected faults).</summary>
    public int Attempts { get; set; }

    /// <summary>Times the tool's own code actually ran for this key: the number "ran exactly once" checks.</summary>
    public int Executions { get; set; }

    /// <summary>Times a stored result was returned instead of running again.</summary>
    public int Replays { get; set; }

    /// <summary>When the key was first seen.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Last change.</summary>
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>When the operation reached a final or failed state.</summary>
    public DateTimeOffset? CompletedAt { get; set; }
}

/// <summary>Values of <see cref="ToolLedgerEntry.Operation"/>.</summary>
public static class LedgerOperations
{
    /// <summary>The tool's execution.</summary>
    public const string Execute = "execute";

    /// <summary>The compensation of an execution with the same key.</summary>
    public const string Compensate = "compensate";
}

/// <summary>Values of <see cref="ToolLedgerEntry.Status"/>.</summary>
public static class LedgerStatuses
{
    /// <summary>Recorded before the tool runs; still there after a crash mid-run.</summary>
    public const string Started = "started";

    /// <summary>Ran and returned an output; replayed for the same key.</summary>
    public const string Succeeded = "succeeded";

    /// <summary>Failed permanently; the failure is replayed for the same key.</summary>
    public const string Failed = "failed";

    /// <summary>Failed in a way a retry may fix; the next call with the key runs again.</summary>
    public const string TransientFailure = "transient-failure";

    /// <summary>A mutating operation was interrupted without recording its outcome; never run again automatically.</summary>
    public const string OutcomeUnknown = "outcome-unknown";
}
