using Agents.Contracts;
using Microsoft.Extensions.Logging;

namespace Agents.Tools.Sdk;

/// <summary>Everything a tool knows about the call it is serving.</summary>
public sealed class ToolContext
{
    internal ToolContext(
        string tool,
        ExecuteTool request,
        bool compensation,
        TimeProvider time,
        ILogger logger)
    {
        Tool = tool;
        CallId = request.CallId;
        TaskId = request.TaskId;
        StepId = request.StepId;
        Principal = request.Principal;
        IdempotencyKey = request.IdempotencyKey;
        IsCompensation = compensation;
        Time = time;
        Logger = logger;
    }

    /// <summary>The tool's name.</summary>
    public string Tool { get; }

    /// <summary>This delivery's call id (a retry of the same step has a new call id but the same idempotency key).</summary>
    public Guid CallId { get; }

    /// <summary>The task the call belongs to.</summary>
    public Guid TaskId { get; }

    /// <summary>The plan step the call belongs to.</summary>
    public string StepId { get; }

    /// <summary>Who is acting: scope every read and write by <see cref="AgentPrincipal.TenantId"/>.</summary>
    public AgentPrincipal Principal { get; }

    /// <summary>The call's idempotency key; the SDK already guarantees at most one execution per key.</summary>
    public string IdempotencyKey { get; }

    /// <summary>True while <see cref="ICompensableTool{TInput,TOutput}.CompensateAsync"/> runs.</summary>
    public bool IsCompensation { get; }

    /// <summary>The clock; use it instead of <see cref="DateTimeOffset.UtcNow"/> so tests can move time.</summary>
    public TimeProvider Time { get; }

    /// <summary>A logger for the tool, scoped with task, step and key.</summary>
    public ILogger Logger { get; }
}
