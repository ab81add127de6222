namespace Agents.Contracts;

/// <summary>
/// Asks governance whether a task may start, and with which effective limits. With <paramref name="ThenPlan"/>, an
/// admitted task is not answered: governance passes the planning request on to the planner with the admission attached
/// (<see cref="CreatePlan.Admission"/>), and the plan's answer carries it back, so the run starts on one message instead
/// of two. A rejection is answered (<see cref="TaskRejected"/>) either way.
/// </summary>
public sealed record AdmitTask(Guid TaskId, AgentPrincipal Principal, string? Goal, TaskLimits? RequestedLimits, IReadOnlyList<string>? RequestedTools, CreatePlan? ThenPlan = null);

/// <summary>
/// The task may start within <see cref="Limits"/>, using at most <see cref="AllowedTools"/> (null: whatever policy allows).
/// <see cref="CallableTools"/>: the tool name patterns (<c>*</c> matches any run of characters) that the caller's roles
/// allow under the tenant's current policy, so that the planner refuses a plan naming a tool no role of the caller may
/// ever call before anything runs (empty: none; null: not told, as from a governance that predates it).
/// </summary>
public sealed record TaskAdmitted(Guid TaskId, TaskLimits Limits, IReadOnlyList<string>? AllowedTools, IReadOnlyList<string>? CallableTools = null)
{
    /// <summary>True when <see cref="CallableTools"/> is not given or one of its patterns matches <paramref name="tool"/>.</summary>
    public bool MayCall(string tool) => CallableTools is null || Wildcard.MatchesAny(CallableTools, tool);
}

/// <summary>The task may not start; <see cref="Reason"/> says why, for a person.</summary>
public sealed record TaskRejected(Guid TaskId, string Reason);

/// <summary>What governance decided about one tool call.</summary>
public enum AuthorizationDecision
{
    /// <summary>Go ahead.</summary>
    Allow,

    /// <summary>Refused; never executed.</summary>
    Deny,

    /// <summary>A person must approve these exact arguments first.</summary>
    RequireApproval,
}

/// <summary>
/// Asks governance (request/response) whether a principal may make a tool call now. Re-checked on
/// every call and retry. <see cref="ArgumentsHash"/> binds an approval to the exact arguments.
/// <see cref="RequestKey"/> names one authorization attempt: asking again with the same key (governance was slow to
/// answer) gets the decision already made and reserves nothing again; without it the message id is the key.
/// <see cref="TaintedArguments"/> (null: every argument counts as tainted when <see cref="ArgumentsTainted"/>),
/// <see cref="ArgumentClasses"/> and <see cref="SendsDataOut"/> (from the tool's registration) let policy decide per
/// argument and class.
/// <para>
/// With <see cref="ThenExecute"/> (the tool-gateway's call of this very tool, task, step, principal and arguments) and
/// <see cref="ThenExecuteAt"/> (that tool's queue), a fresh <see cref="AuthorizationDecision.Allow"/> is not answered:
/// governance sends the call on to the tool in the transaction of the decision, with this request's request id and
/// response address (and what is left of its time to live), so the tool's <see cref="ToolExecutionResult"/> answers this
/// request. A refusal, and a decision already made for the same <see cref="RequestKey"/>, are answered with
/// <see cref="ToolCallAuthorization"/> as without them. A governance that predates these fields ignores them and answers.
/// </para>
/// </summary>
public sealed record AuthorizeToolCall(
    Guid TaskId,
    string StepId,
    AgentPrincipal Principal,
    string Tool,
    SideEffectClass SideEffect,
    RiskTier Risk,
    string RequiredScope,
    string ArgumentsJson,
    string ArgumentsHash,
    bool ArgumentsTainted,
    IReadOnlyList<string>? TaskAllowedTools,
    Guid? ApprovalId,
    string? RequestKey = null,
    IReadOnlyList<TaintedArgument>? TaintedArguments = null,
    IReadOnlyDictionary<string, ArgumentClass>? ArgumentClasses = null,
    bool SendsDataOut = false,
    ExecuteTool? ThenExecute = null,
    Uri? ThenExecuteAt = null);

/// <summary>
/// Governance's answer to <see cref="AuthorizeToolCall"/>. <see cref="Forwarded"/>: the call was allowed and sent on to
/// its tool when the decision was made (<see cref="AuthorizeToolCall.ThenExecute"/>); it is true only in the answer to
/// the same request key asked again, since the request that was sent on gets the tool's answer instead.
/// </summary>
public sealed record ToolCallAuthorization(AuthorizationDecision Decision, string Reason, Guid? ApprovalId = null, bool Forwarded = false);

/// <summary>A person approved or rejected a pending tool call (or it expired).</summary>
public sealed record ApprovalDecided(Guid ApprovalId, Guid TaskId, string StepId, bool Approved, string DecidedBy, string? Comment, bool Expired);

/// <summary>
/// Usage to add to the ledger for a task (recorded after each step). <see cref="ModelCall"/> names the model call whose
/// reservation (<see cref="ReserveModelBudget"/>) this settles: the ledger then keeps the actual usage instead of the reservation.
/// </summary>
public sealed record RecordUsage(Guid TaskId, AgentPrincipal Principal, int InputTokens, int OutputTokens, decimal Cost, int ToolCalls, ModelCallRef? ModelCall = null);

/// <summary>One attempt of one model step of a task.</summary>
public sealed record ModelCallRef(string StepId, int Attempt);

/// <summary>
/// Asks governance (request/response), just before a model call, to reserve its tokens and cost from the daily budgets of
/// the user and the tenant, so that concurrent tasks cannot overspend them together. The reservation counts as used until
/// <see cref="RecordUsage"/> for the same call settles it with the actual usage; a call that never reports stays charged
/// at its reservation. Asking again for the same call returns the same answer.
/// </summary>
/// <param name="TaskId">The task.</param>
/// <param name="Call">The model step attempt.</param>
/// <param name="Principal">Who the task runs for.</param>
/// <param name="InputTokens">Estimated input tokens of the call.</param>
/// <param name="MaxOutputTokens">The most output tokens the call may produce (already within the task's own budget).</param>
/// <param name="InputPerMillion">Price of a million input tokens of the model (0 when unpriced).</param>
/// <param name="OutputPerMillion">Price of a million output tokens of the model (0 when unpriced).</param>
/// <param name="ThenRun">
/// The model step this reservation is for, sent by the executor's saga: governance then sends it on to
/// <paramref name="ThenRunAt"/> (the executor's model worker) with its answer attached (<see cref="RunModelStep.Reservation"/>)
/// instead of answering the sender, in the transaction of the reservation. One message fewer per model step than the worker
/// asking for itself, and nothing waits on a request meanwhile: governance that is slow or restarting only delays the step.
/// </param>
/// <param name="ThenRunAt">Where <paramref name="ThenRun"/> goes (the model worker's queue of the executor that sent it).</param>
public sealed record ReserveModelBudget(
    Guid TaskId,
    ModelCallRef Call,
    AgentPrincipal Principal,
    int InputTokens,
    int MaxOutputTokens,
    decimal InputPerMillion,
    decimal OutputPerMillion,
    RunModelStep? ThenRun = null,
    Uri? ThenRunAt = null);

/// <summary>
/// Governance's answer to <see cref="ReserveModelBudget"/>: granted with at most <see cref="MaxOutputTokens"/> output tokens
/// (never more than asked; fewer when the daily budgets have less room), or refused with a <see cref="Reason"/>.
/// <see cref="BudgetExhausted"/> tells a budget refusal from any other (a kill switch). <see cref="RetryLater"/>: not now,
/// because the day's room is held by reservations of model calls still in flight, which usually give most of it back when
/// they report; nothing was stored, so asking again later decides afresh.
/// </summary>
public sealed record ModelBudgetReservation(bool Granted, int MaxOutputTokens, string? Reason, bool BudgetExhausted, bool RetryLater = false);

/// <summary>
/// The governance watchdog found an anomaly in a tenant's decisions (<paramref name="Rule"/>: <c>denial-spike</c>, <c>tool-failure</c> or
/// <c>task-cost</c>) on <paramref name="Subject"/> (<c>tool/…</c> or <c>task/…</c>). <paramref name="KillSwitch"/>
/// names the switch it turned on by the tenant's policy (<c>*</c> for the tenant, or a tool), null when none.
/// </summary>
public sealed record WatchdogAlert(string TenantId, string Rule, string Subject, string Reason, Guid? TaskId, string? KillSwitch, DateTimeOffset RaisedAt);
