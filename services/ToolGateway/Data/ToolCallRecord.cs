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

    public ToolCallCompleted ToCompleted() => new(
        TaskId, StepId, Tool, Outcome ?? throw new InvalidOperationException("The call has not completed."),
        OutputJson, Error, Untrusted: true, Attempts, DurationMs, ApprovalId, Compensation);
}
