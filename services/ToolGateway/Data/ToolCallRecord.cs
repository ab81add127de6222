using Agents.Contracts;

namespace Agents.ToolGateway.Data;

/// <summary>
/// One tool call, keyed by its idempotency key (and whether it is the compensation of that call).
/// Written when the call starts and completed with the <see cref="ToolCallCompleted"/> that was
/// published, so a redelivered <see cref="InvokeTool"/> republishes it instead of calling again.
/// </summary>
public sealed class ToolCallRecord
{
    public required string IdempotencyKey { get; set; }

    public bool Compensation { get; set; }

    /// <summary>Id of the latest execution (sent to the tool as <see cref="ExecuteTool.CallId"/>; the span's gen_ai.tool.call.id).</summary>
    public Guid CallId { get; set; }

    public Guid TaskId { get; set; }

    public required string StepId { get; set; }

    public required string TenantId { get; set; }

    public required string UserId { get; set; }

    public required string Tool { get; set; }

    /// <summary>SHA-256 (hex) of the canonical arguments JSON; see <see cref="Invocation.ArgumentsHasher"/>.</summary>
    public required string ArgumentsHash { get; set; }

    /// <summary>Message id of the latest <see cref="InvokeTool"/> processed for this key.</summary>
    public Guid? LastMessageId { get; set; }

    /// <summary>Null while the call runs.</summary>
    public ToolCallOutcome? Outcome { get; set; }

    public string? OutputJson { get; set; }

    public string? Error { get; set; }

    public int Attempts { get; set; }

    public double DurationMs { get; set; }

    public Guid? ApprovalId { get; set; }

    /// <summary>How many InvokeTool messages were processed for this key (redeliveries that were replayed not included).</summary>
    public int Invocations { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }

    /// <summary>A record for a call of <paramref name="call"/> that has not started before (its outcome still to come).</summary>
    public static ToolCallRecord For(InvokeTool call, string argumentsHash) => new()
    {
        IdempotencyKey = call.IdempotencyKey,
        Compensation = call.Compensate,
        StepId = call.StepId,
        TenantId = call.Principal.TenantId,
        UserId = call.Principal.UserId,
        Tool = call.Tool,
        ArgumentsHash = argumentsHash,
    };

    /// <summary>Makes this the record of the run <paramref name="callId"/> of <paramref name="call"/> (message <paramref name="messageId"/>), started at <paramref name="startedAt"/> and not yet answered.</summary>
    public void Start(InvokeTool call, string argumentsHash, Guid callId, Guid? messageId, DateTimeOffset startedAt)
    {
        CallId = callId;
        TaskId = call.TaskId;
        StepId = call.StepId;
        TenantId = call.Principal.TenantId;
        UserId = call.Principal.UserId;
        Tool = call.Tool;
        ArgumentsHash = argumentsHash;
        LastMessageId = messageId;
        Outcome = null;
        OutputJson = null;
        Error = null;
        Attempts = 0;
        ApprovalId = call.ApprovalId;
        Invocations++;
        StartedAt = startedAt;
        CompletedAt = null;
    }

    public ToolCallCompleted ToCompleted() => new(
        TaskId, StepId, Tool, Outcome ?? throw new InvalidOperationException("The call has not completed."),
        OutputJson, Error, Untrusted: true, Attempts, DurationMs, ApprovalId, Compensation);
}
