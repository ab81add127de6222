namespace Agents.Contracts;

/// <summary>What calling a tool does to the world; decides retries and approvals.</summary>
public enum SideEffectClass
{
    /// <summary>Reads only; safe to retry.</summary>
    ReadOnly,

    /// <summary>Changes state, but repeating the same call has the same effect; safe to retry.</summary>
    Idempotent,

    /// <summary>Changes state; never retried blindly, deduplicated by idempotency key, may be compensated.</summary>
    Mutating,
}

/// <summary>How risky a tool is, for policies (approval gates).</summary>
public enum RiskTier
{
    /// <summary>Harmless.</summary>
    Low,

    /// <summary>Worth a policy rule.</summary>
    Medium,

    /// <summary>Needs care; policies usually require approval.</summary>
    High,

    /// <summary>Never without a person.</summary>
    Critical,
}

/// <summary>
/// A tool's self-description, announced by the tool service on start. <see cref="ReturnsUntrustedContent"/>: every output
/// is untrusted; <see cref="UntrustedOutputFields"/>: only these top-level output fields are (outside text in an otherwise
/// trusted record). <see cref="ArgumentClasses"/>: the class of each top-level argument (an argument not named is
/// <see cref="ArgumentClass.Control"/>). <see cref="SendsDataOut"/>: the call carries its arguments outside the platform
/// (a fetch, a search), so its control arguments are an egress even when the tool is ReadOnly.
/// </summary>
public sealed record ToolDescriptor(
    string Name,
    string Description,
    string InputSchema,
    string OutputSchema,
    SideEffectClass SideEffect,
    RiskTier Risk,
    string RequiredScope,
    bool Compensable,
    bool ReturnsUntrustedContent,
    int TimeoutSeconds,
    string Version,
    IReadOnlyList<string>? UntrustedOutputFields = null,
    IReadOnlyDictionary<string, ArgumentClass>? ArgumentClasses = null,
    bool SendsDataOut = false);

/// <summary>A tool service announces (or re-announces) itself to the tool-gateway's registry.</summary>
public sealed record ToolAnnounced(ToolDescriptor Tool, string Instance, DateTimeOffset AnnouncedAt);

/// <summary>
/// Published by a service that keeps a tool catalog (tool-gateway, planner, executor) once its bus is up:
/// every tool service announces itself again at once, so a catalog that started after the tools is
/// complete without waiting for the next periodic announcement.
/// </summary>
public sealed record RequestToolAnnouncements(string Requester, DateTimeOffset RequestedAt);

/// <summary>
/// The executor asks the tool-gateway to run a tool step. The gateway validates, authorizes,
/// executes (with retries/circuit breaker) and answers with <see cref="ToolCallCompleted"/>.
/// <see cref="ArgumentsTainted"/>: some argument came from untrusted content; <see cref="TaintedArguments"/> says which,
/// from where (null from a sender that does not track values: then every argument counts as tainted).
/// </summary>
public sealed record InvokeTool(
    Guid TaskId,
    string StepId,
    AgentPrincipal Principal,
    string Tool,
    string ArgumentsJson,
    string IdempotencyKey,
    bool ArgumentsTainted,
    IReadOnlyList<string>? TaskAllowedTools,
    Guid? ApprovalId = null,
    bool Compensate = false,
    IReadOnlyList<TaintedArgument>? TaintedArguments = null);

/// <summary>
/// The tool-gateway asks a tool service to execute (on the tool's own queue). A repeated
/// <see cref="IdempotencyKey"/> returns the stored result and never re-executes.
/// With <see cref="Compensate"/> the tool undoes the call made with that key. It comes either from the tool-gateway itself
/// or from governance, which sends it on with its decision (<see cref="AuthorizeToolCall.ThenExecute"/>); the answer goes
/// to the response address either way.
/// </summary>
public sealed record ExecuteTool(
    Guid CallId,
    Guid TaskId,
    string StepId,
    AgentPrincipal Principal,
    string Tool,
    string ArgumentsJson,
    string IdempotencyKey,
    bool Compensate = false);

/// <summary>A tool service's answer to <see cref="ExecuteTool"/>.</summary>
public sealed record ToolExecutionResult(
    Guid CallId,
    bool Succeeded,
    string? OutputJson,
    string? Error,
    bool Transient,
    bool Replayed);

/// <summary>How a tool call ended, as the executor sees it.</summary>
public enum ToolCallOutcome
{
    /// <summary>The tool ran and returned an output.</summary>
    Succeeded,

    /// <summary>The tool failed (after retries where allowed).</summary>
    Failed,

    /// <summary>The arguments did not match the tool's input schema.</summary>
    InvalidArguments,

    /// <summary>No such tool in the registry.</summary>
    UnknownTool,

    /// <summary>Governance denied the call.</summary>
    Denied,

    /// <summary>A person must approve the call first; the executor waits for the decision.</summary>
    ApprovalRequired,

    /// <summary>The tool's circuit is open after repeated failures.</summary>
    CircuitOpen,

    /// <summary>The tool did not answer within its timeout.</summary>
    TimedOut,
}

/// <summary>
/// The tool-gateway's answer to <see cref="InvokeTool"/>. <see cref="Untrusted"/>: the output is untrusted data (the tool
/// declares it returns outside content, or the tool is unknown); <see cref="UntrustedFields"/>: only these top-level fields
/// of the output are. <see cref="ErrorFromTool"/>: <see cref="Error"/> holds the tool's own words (which may echo outside
/// content), not text the platform wrote. The registry owns what a
/// tool is: <see cref="SideEffect"/> and <see cref="Compensable"/> come from it with the answer (null when the gateway
/// answered without looking the tool up, e.g. from a stored outcome). <see cref="Permanent"/>: the tool reported the
/// failure as permanent (the same call would fail again), so it is neither retried nor re-planned. <see cref="RetryAt"/>:
/// the earliest time the same call can be tried again (a <see cref="ToolCallOutcome.CircuitOpen"/> answer: when the
/// circuit lets its trial call through); the executor waits until then rather than spending the step's attempts at once.
/// </summary>
public sealed record ToolCallCompleted(
    Guid TaskId,
    string StepId,
    string Tool,
    ToolCallOutcome Outcome,
    string? OutputJson,
    string? Error,
    bool Untrusted,
    int Attempts,
    double DurationMs,
    Guid? ApprovalId = null,
    bool Compensation = false,
    SideEffectClass? SideEffect = null,
    bool? Compensable = null,
    bool Permanent = false,
    IReadOnlyList<string>? UntrustedFields = null,
    bool ErrorFromTool = false,
    DateTimeOffset? RetryAt = null);

/// <summary>
/// A tool's circuit was moved by hand or by the registry: every tool-gateway instance applies it to the circuit it keeps in
/// memory. <see cref="Closed"/>: an operator reset it (closed, no failures counted); otherwise the tool announced itself
/// again while its circuit was open, and the next call is the half-open trial.
/// </summary>
public sealed record ToolCircuitReset(string Tool, bool Closed, string By, DateTimeOffset At);
