using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Models;

namespace Agents.Executor.StateMachines;

/// <summary>
/// The decisions of a task run, as plain code over <see cref="TaskRunState"/>: what to dispatch, when to
/// retry, revise, compensate or stop. Each handler mutates the state and records its effects; the state
/// machine applies them (publish, schedule, append to the event log) in the same unit of work.
/// Every handler tolerates duplicates and stale messages: a message that no longer matches the state is ignored.
/// </summary>
internal sealed partial class TaskRunEngine(ExecutorOptions options, ToolCatalogSnapshot catalog, DateTimeOffset now, ModelPrice? modelPrice = null, Func<string?, ModelPrice?>? priceOf = null)
{
    public RunEffects Effects { get; } = new();

    public static string IdempotencyKey(Guid taskId, string stepId) => $"{taskId:N}:{stepId}";

    public void Submit(TaskRunState s, SubmitTask m)
    {
        s.Principal = m.Principal;
        s.Goal = m.Goal;
        s.TemplateName = m.TemplateName;
        s.Parameters = m.Parameters is null ? null : new Dictionary<string, string>(m.Parameters, StringComparer.Ordinal);
        s.RequestedSteps = m.Steps?.ToList();
        s.RequestedLimits = m.Limits;
        s.RequestedTools = m.AllowedTools?.ToList();
        s.SubmittedAt = m.SubmittedAt;
        s.ReplayOf = m.ReplayOf;
        s.WhatIf = m.ReplayOf is not null && m.WhatIf;
        s.TemplateVersion = m.TemplateVersion;
        s.Model = m.ReplayOf is null || s.WhatIf ? m.Model : null;
        s.Status = TaskRunStatus.Submitted;
        Log("submitted", null, new { m.Goal, template = m.TemplateName, templateVersion = m.TemplateVersion, model = s.Model, m.Parameters, steps = m.Steps, m.Limits, m.AllowedTools, user = m.Principal.UserId, m.ReplayOf, whatIf = s.WhatIf });

        // A template or explicit steps do not read memories: the planning request rides with the admission request,
        // governance passes it on to the planner once the task is admitted, and the plan comes back with the admission,
        // so the run starts on one message. Only a goal is admitted first, then waits for memories, then for the plan.
        if (NeedsMemories(s))
        {
            Effects.Published.Add(new AdmitTask(s.CorrelationId, m.Principal, m.Goal, m.Limits, m.AllowedTools));
        }
        else
        {
            Effects.Published.Add(new AdmitTask(s.CorrelationId, m.Principal, m.Goal, m.Limits, m.AllowedTools, PlanRequest(s, null)));
        }
    }

    /// <summary>The admission's limits and tools; the run moves on to planning.</summary>
    private void AdmitWith(TaskRunState s, TaskAdmitted m)
    {
        s.Limits = m.Limits;
        s.AllowedTools = m.AllowedTools?.ToList();
        s.Status = TaskRunStatus.Planning;
        Log("admitted", null, new { m.Limits, m.AllowedTools });
    }

    public void TaskAdmitted(TaskRunState s, TaskAdmitted m)
    {
        if (s.Status != TaskRunStatus.Submitted)
        {
            return;
        }

        AdmitWith(s, m);
        if (s.Plan is not null)
        {
            // The plan arrived first: start.
            s.Status = TaskRunStatus.Running;
            Advance(s);
            return;
        }

        if (NeedsMemories(s))
        {
            Effects.Published.Add(new RecallMemories(s.CorrelationId, s.Principal, s.Goal!));
            Effects.Scheduled.Add((options.MemoryRecallTimeout, new MemoryRecallTimedOut(s.CorrelationId)));
        }
        else
        {
            // Governance answers an admission whose request held the planning request only when it does not pass it on
            // (a version from before it did): ask the planner now. A second plan for the same task is ignored.
            RequestPlan(s, null);
        }
    }

    public void TaskRejected(TaskRunState s, TaskRejected m)
    {
        if (s.Status != TaskRunStatus.Submitted)
        {
            return;
        }

        Finish(s, TaskRunStatus.Rejected, m.Reason);
    }

    public void MemoriesRecalled(TaskRunState s, MemoriesRecalled m)
    {
        if (s.PlanRequested || s.Status != TaskRunStatus.Planning)
        {
            return;
        }

        s.MemoryCount = m.Memories.Count;

        // The planner never reads untrusted text: an untrusted memory reaches it as a reference (id, kind, source), so a
        // plan it writes carries no value the memory could have injected, and is not tainted.
        var forPlanner = m.Memories.Select(x => x.Trust == TrustLevel.Trusted ? x : x with { Text = WithheldMemory(x) }).ToList();
        Log("memories-recalled", null, new
        {
            count = m.Memories.Count,
            withheldFromPlanner = m.Memories.Count(x => x.Trust != TrustLevel.Trusted),
            memories = m.Memories.Select(x => new { x.MemoryId, x.Kind, x.Source, x.Trust, x.Score }),
        });
        RequestPlan(s, forPlanner);
    }

    /// <summary>What the planner reads in place of an untrusted memory's text.</summary>
    public static string WithheldMemory(RecalledMemory memory) =>
        $"[memory {memory.MemoryId}: untrusted {memory.Kind} from {memory.Source}; its text is not shown to the planner]";

    /// <summary>What the planner reads in place of an error that holds a tool's own words, or quotes tainted arguments.</summary>
    public static string WithheldError(StepRun step) =>
        $"Step '{step.Id}' ({step.Tool ?? "model"}) failed with an error written by the tool or quoting its arguments; its text may echo outside content and is not shown to the planner (it is in the task's log).";

    public void MemoryRecallTimedOut(TaskRunState s)
    {
        if (s.PlanRequested || s.Status != TaskRunStatus.Planning)
        {
            return;
        }

        Log("memory-recall-timed-out", null, new { timeoutSeconds = options.MemoryRecallTimeout.TotalSeconds });
        RequestPlan(s, null);
    }

    public void PlanCreated(TaskRunState s, PlanCreated m)
    {
        if (m.Admission is { } admission && s.Status == TaskRunStatus.Submitted)
        {
            // Planned after governance admitted the task: admit, then take the plan as after any admission.
            AdmitWith(s, admission);
        }

        if (s.IsTerminal || s.Compensating || (s.Plan is not null && m.Plan.Version <= s.Plan.Version) || (s.Plan is not null && !s.RevisionPending))
        {
            return;
        }

        if (s.Status == TaskRunStatus.Submitted)
        {
            // Planned before admission answered: keep the plan; Admitted starts the run.
            TakePlan(s, m.Plan, "plan-created");
            return;
        }

        var revision = s.Plan is not null;
        s.PlanRequested = true;
        s.RevisionPending = false;
        TakePlan(s, m.Plan, revision ? "plan-revised" : "plan-created");
        s.Status = TaskRunStatus.Running;
        Advance(s);
    }

    private void TakePlan(TaskRunState s, Plan plan, string kind)
    {
        s.Plan = plan;
        if (plan.TemplateVersion is { } version)
        {
            // The version that ran: the event log, the task view and the per-version figures name it.
            s.TemplateVersion = version;
            s.TemplateRollout = plan.Rollout;
        }

        AddPlanSteps(s, plan);
        Log(kind, null, new { plan.PlanId, plan.Version, plan.Source, plan.Rationale, template = plan.Template, templateVersion = plan.TemplateVersion, rollout = plan.Rollout, plan.Steps });
    }

    private static void AddPlanSteps(TaskRunState s, Plan plan)
    {
        foreach (var step in plan.Steps)
        {
            if (s.Steps.TryGetValue(step.Id, out var existing) && existing.Status is StepStatus.Succeeded or StepStatus.Running or StepStatus.AwaitingApproval)
            {
                continue;
            }

            // A revised step counts its dispatches on from the one it replaces, so that a timeout or a model answer
            // (or budget reservation) of the old one can never be taken for one of the new one.
            var earlier = existing?.Dispatches ?? 0;
            s.Steps[step.Id] = new StepRun
            {
                Id = step.Id,
                Kind = step.Kind,
                Tool = step.Tool,
                Status = StepStatus.Pending,
                PlanVersion = plan.Version,
                Dispatches = earlier,
                EarlierDispatches = earlier,
            };
        }
    }

    public void PlanRejected(TaskRunState s, PlanRejected m)
    {
        if (s.IsTerminal || s.Compensating)
        {
            return;
        }

        if (m.Admission is { } admission && s.Status == TaskRunStatus.Submitted)
        {
            AdmitWith(s, admission);
        }

        if (s.RevisionPending)
        {
            s.RevisionPending = false;
            Log("plan-revision-rejected", null, new { m.Reason, m.Errors });
            FailOrCompensate(s, $"{s.Reason} The plan could not be revised: {m.Reason}".Trim());
            return;
        }

        if (s.Plan is not null || s.Status is not (TaskRunStatus.Planning or TaskRunStatus.Submitted))
        {
            return;
        }

        Log("plan-rejected", null, new { m.Reason, m.Errors });

        // A template or explicit steps the planner refuses is a task that was never valid (refused, as at submission);
        // a goal the planner model could not turn into a valid plan is a run that failed.
        if (NeedsMemories(s))
        {
            Finish(s, TaskRunStatus.Failed, "No valid plan: " + m.Reason);
        }
        else
        {
            Finish(s, TaskRunStatus.Rejected, "The planner refused the task: " + m.Reason);
        }
    }

    public void ToolCallCompleted(TaskRunState s, ToolCallCompleted m)
    {
        if (s.IsTerminal || !s.Steps.TryGetValue(m.StepId, out var step))
        {
            return;
        }

        if (m.Compensation)
        {
            CompensationCompleted(s, step, m);
            return;
        }

        if (step.Status != StepStatus.Running)
        {
            return;
        }

        Log("tool-call", step.Id, new
        {
            m.Tool,
            arguments = step.Input,
            argumentsTainted = step.InputTainted,
            taintedArguments = TaintedArguments(step),
            m.UntrustedFields,
            m.ErrorFromTool,
            outcome = m.Outcome,
            output = m.OutputJson,
            m.Error,
            m.Untrusted,
            m.Attempts,
            m.DurationMs,
            attempt = step.Attempts,
            m.ApprovalId,
        });

        switch (m.Outcome)
        {
            case ToolCallOutcome.Succeeded:
                var descriptor = catalog.Find(step.Tool);
                step.SideEffect = descriptor?.SideEffect;
                step.UntrustedFields = m.UntrustedFields?.ToList();
                step.TaintSources = null;
                step.Flagged = InjectionScreen.Flags(UntrustedPart(m));
                Succeed(s, step, m.OutputJson, m.Untrusted);

                // Unknown tools are treated as compensable: undoing too much is safer than leaving a side effect behind.
                if (descriptor is null || (descriptor.SideEffect == SideEffectClass.Mutating && descriptor.Compensable))
                {
                    s.CompensableSteps.Add(step.Id);
                    if (s.Compensating)
                    {
                        s.CompensationQueue.Insert(0, step.Id);
                    }
                }

                break;
            case ToolCallOutcome.ApprovalRequired:
                step.Status = StepStatus.AwaitingApproval;
                step.ApprovalId = m.ApprovalId;
                Log("approval-required", step.Id, new { m.ApprovalId, m.Tool, arguments = step.Input, argumentsTainted = step.InputTainted, taintedArguments = TaintedArguments(step), reason = m.Error });
                break;
            case ToolCallOutcome.Failed when m.Permanent:
                step.ErrorUntrusted = ErrorUntrusted(step, m);
                // The tool said the same call would fail again: no retry, and no revision that would only repeat it.
                StepFailed(s, step, $"{m.Tool}: {m.Outcome} (permanent): {m.Error}", retryable: false, revise: false);
                break;
            case ToolCallOutcome.Failed or ToolCallOutcome.TimedOut or ToolCallOutcome.CircuitOpen when m.RetryAt is { } retryAt && CanWaitUntil(s, step, retryAt):
                // The tool's circuit is open: the next attempt waits for its trial call instead of meeting the open circuit now.
                WaitToRetry(step, $"{m.Tool}: {m.Outcome}: {m.Error}", retryAt);
                break;
            case ToolCallOutcome.Failed or ToolCallOutcome.TimedOut or ToolCallOutcome.CircuitOpen:
                step.ErrorUntrusted = ErrorUntrusted(step, m);
                StepFailed(s, step, $"{m.Tool}: {m.Outcome}: {m.Error}", retryable: true);
                break;
            default:
                step.ErrorUntrusted = ErrorUntrusted(step, m);
                StepFailed(s, step, $"{m.Tool}: {m.Outcome}: {m.Error}", retryable: false);
                break;
        }

        RunningStepSettled(s);
        Advance(s);
    }

    /// <summary>
    /// An error is the tool's own words when the tool-gateway says so; they may echo outside content when the tool returns
    /// untrusted content or its arguments were tainted. The schema check's errors quote the values they refuse ("got ..."),
    /// so with tainted arguments they may echo outside content too. The platform's other texts (timeouts, governance,
    /// circuit) are trusted.
    /// </summary>
    private static bool ErrorUntrusted(StepRun step, ToolCallCompleted m) =>
        (m.ErrorFromTool && (m.Untrusted || step.InputTainted)) || (m.Outcome == ToolCallOutcome.InvalidArguments && step.InputTainted);

    /// <summary>The untrusted part of a tool's output: all of it, or the fields the tool declared untrusted.</summary>
    private static string? UntrustedPart(ToolCallCompleted m)
    {
        if (m.Untrusted || m.OutputJson is null)
        {
            return m.OutputJson;
        }

        if (m.UntrustedFields is not { Count: > 0 } fields)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(m.OutputJson) is JsonObject output
                ? string.Join("\n", fields.Select(f => output[f]?.ToJsonString() ?? string.Empty))
                : m.OutputJson;
        }
        catch (System.Text.Json.JsonException)
        {
            return m.OutputJson;
        }
    }

    private static IReadOnlyList<TaintedArgument>? TaintedArguments(StepRun step) =>
        step.InputProvenance?.Where(a => a.Tainted).Select(a => a.ToTainted()).ToList();

    public void ModelStepCompleted(TaskRunState s, ModelStepCompleted m)
    {
        if (!s.Steps.TryGetValue(m.StepId, out var step) || m.Attempt < 1 || m.Attempt > step.Dispatches)
        {
            return;
        }

        var usage = new RecordUsage(s.CorrelationId, s.Principal, m.InputTokens, m.OutputTokens, m.Cost, 0, m.Reserved ? new ModelCallRef(m.StepId, m.Attempt) : null);
        if (s.IsTerminal || step.Status != StepStatus.Running || m.Attempt != step.Dispatches)
        {
            LateModelAnswer(s, step, m, usage);
            return;
        }

        if (m.Refusal is not null)
        {
            Log("model-call-refused", step.Id, new { m.Refusal, m.BudgetExhausted, attempt = step.Attempts });
            if (s.Compensating)
            {
                // Undoing completed steps goes on; this step just does not run.
                StepFailed(s, step, "model: governance refused the call: " + m.Refusal, retryable: false);
                Advance(s);
                return;
            }

            Finish(s, m.BudgetExhausted ? TaskRunStatus.BudgetExceeded : TaskRunStatus.Failed, "Governance refused the model call: " + m.Refusal);
            return;
        }

        s.InputTokens += m.InputTokens;
        s.OutputTokens += m.OutputTokens;
        s.Cost += m.Cost;
        Log("model-call", step.Id, new
        {
            m.Model,
            prompt = step.Input,
            promptTainted = step.InputTainted,
            output = m.Output,
            m.Error,
            m.InputTokens,
            m.OutputTokens,
            m.Cost,
            m.DurationMs,
            attempt = step.Attempts,
        });
        Effects.Published.Add(usage);
        if (m.Succeeded)
        {
            Succeed(s, step, m.Output, step.InputTainted);
        }
        else
        {
            // A model that is not there cannot be revised into being: a permanent failure ends the task (or compensates).
            StepFailed(s, step, "model: " + m.Error, retryable: !m.Permanent, revise: !m.Permanent);
        }

        Advance(s);
    }

    /// <summary>
    /// An answer to an attempt the saga no longer waits for (it timed out, or the task ended): its output is not used,
    /// but the tokens were spent. They count in the task's usage while it runs (logged as <c>model-call-late</c>), and
    /// the ledger always gets the report, which also settles the call's budget reservation.
    /// </summary>
    private void LateModelAnswer(TaskRunState s, StepRun step, ModelStepCompleted m, RecordUsage usage)
    {
        if (m.InputTokens == 0 && m.OutputTokens == 0 && m.Cost == 0m && !m.Reserved)
        {
            return;
        }

        Effects.Published.Add(usage);
        if (s.IsTerminal)
        {
            // The task's result and log are final ("finished" stays the last entry); the ledger still gets the report.
            return;
        }

        s.InputTokens += m.InputTokens;
        s.OutputTokens += m.OutputTokens;
        s.Cost += m.Cost;
        Log("model-call-late", step.Id, new { m.Model, m.InputTokens, m.OutputTokens, m.Cost, m.DurationMs, answeredAttempt = m.Attempt, currentAttempt = step.Dispatches });
    }

    /// <summary>
    /// A wake-up fired: the attempt it names times out if it still runs, and so does every running attempt whose time is up
    /// (one wake-up covers all of a task's running steps; <see cref="StepDeadlines"/>).
    /// </summary>
    public void StepTimedOut(TaskRunState s, StepTimedOut m)
    {
        if (s.Steps.TryGetValue(m.StepId, out var holder) && holder.TimeoutToken is not null && holder.TimeoutAttempt == m.Attempt)
        {
            // This is the wake-up the step held: it is spent.
            holder.TimeoutToken = null;
            holder.TimeoutAttempt = null;
            holder.TimeoutAt = null;
        }

        if (s.IsTerminal)
        {
            return;
        }

        // Steps that waited for their tool's circuit are ready again (dispatched by the Advance below).
        var waitOver = false;
        foreach (var waited in s.Steps.Values.Where(x => x.Status == StepStatus.Pending && x.WaitingUntil <= now))
        {
            waited.WaitingUntil = null;
            waited.DueAt = null;
            Log("step-wait-over", waited.Id, new { attempt = waited.Attempts });
            waitOver = true;
        }

        var due = s.Steps.Values
            .Where(x => x.Status == StepStatus.Running && ((x.Id == m.StepId && x.Dispatches == m.Attempt) || x.DueAt <= now))
            .ToList();
        if (due.Count == 0 && !waitOver)
        {
            // A wake-up that came early: nothing to do until the next one (scheduled after this message).
            return;
        }

        foreach (var step in due)
        {
            // A step that failed for good may have ended the task (or compensation took the steps over): the rest stop here.
            if (s.IsTerminal || step.Status != StepStatus.Running)
            {
                break;
            }

            Log("step-timed-out", step.Id, new { attempt = step.Attempts });
            StepFailed(s, step, $"Step '{step.Id}' did not finish within its timeout.", retryable: true);
            RunningStepSettled(s);
        }

        Advance(s);
    }

    public void ApprovalDecided(TaskRunState s, ApprovalDecided m)
    {
        if (s.IsTerminal || !s.Steps.TryGetValue(m.StepId, out var step) || step.Status != StepStatus.AwaitingApproval
            || (step.ApprovalId is { } expected && expected != m.ApprovalId))
        {
            return;
        }

        Log("approval-decided", step.Id, new { m.ApprovalId, m.Approved, m.DecidedBy, m.Comment, m.Expired });
        if (m.Approved)
        {
            step.ApprovalId = m.ApprovalId;
            var planStep = s.Plan?.Steps.FirstOrDefault(x => x.Id == step.Id);
            if (planStep is not null)
            {
                Dispatch(s, planStep, step, m.ApprovalId);
            }
        }
        else
        {
            var why = m.Expired ? "the approval expired" : $"the approval was rejected by {m.DecidedBy}" + (string.IsNullOrEmpty(m.Comment) ? string.Empty : $": {m.Comment}");

            // A person's rejection is a decision about this call: a revised plan would only ask for it again (the same
            // tool with the same arguments), so the run ends with what it has instead of asking the planner.
            StepFailed(s, step, $"Step '{step.Id}' was not run: {why}.", retryable: false, revise: m.Expired);
        }

        Advance(s);
    }

    public void Cancel(TaskRunState s, CancelTask m)
    {
        if (s.IsTerminal)
        {
            return;
        }

        if (string.IsNullOrEmpty(s.Principal.TenantId))
        {
            s.Principal = m.Principal;
        }

        Finish(s, TaskRunStatus.Cancelled, m.Reason ?? $"Cancelled by {m.Principal.UserId}.");
    }

    private void RequestPlan(TaskRunState s, IReadOnlyList<RecalledMemory>? memories) => Effects.Published.Add(PlanRequest(s, memories));

    /// <summary>Marks the plan requested and returns the request (published by the caller, or carried by the admission request).</summary>
    private CreatePlan PlanRequest(TaskRunState s, IReadOnlyList<RecalledMemory>? memories)
    {
        s.PlanRequested = true;
        Log("plan-requested", null, new { memories = memories?.Count ?? 0 });
        return new CreatePlan(s.CorrelationId, s.Principal, s.Goal, s.TemplateName, s.Parameters, s.RequestedSteps, memories, s.AllowedTools, TemplateVersion: s.TemplateVersion);
    }

    private void Succeed(TaskRunState s, StepRun step, string? output, bool tainted)
    {
        step.Status = StepStatus.Succeeded;
        step.Output = output;
        step.Tainted = tainted;
        step.Error = null;
        step.CompletedAt = now;
        Log("step-succeeded", step.Id, new { step.Attempts, tainted, untrustedFields = step.UntrustedFields, flagged = step.Flagged, sources = tainted ? step.TaintSources : null });
    }

    private int MaxAttempts(TaskRunState s, StepRun step) =>
        s.Plan?.Steps.FirstOrDefault(x => x.Id == step.Id)?.MaxAttempts ?? options.MaxStepAttempts;

    /// <summary>
    /// Whether a step may wait until <paramref name="until"/> for its next attempt: it has one left, the task is not undoing
    /// steps, and the time comes within <see cref="ExecutorOptions.MaxCircuitWait"/> and before the task's wall-clock limit
    /// (otherwise the step fails now, as it would have).
    /// </summary>
    private bool CanWaitUntil(TaskRunState s, StepRun step, DateTimeOffset until) =>
        until > now && until - now <= options.MaxCircuitWait && step.Attempts < MaxAttempts(s, step) && !s.Compensating && !s.RevisionPending
        && (s.Limits.MaxWallClock is not { } wall || until < s.SubmittedAt + wall);

    private void WaitToRetry(StepRun step, string error, DateTimeOffset until)
    {
        step.Error = error;
        step.ErrorUntrusted = false;
        step.Status = StepStatus.Pending;
        step.WaitingUntil = until;
        step.DueAt = until;
        Log("step-waiting", step.Id, new { step.Attempts, until, error });
    }

    private void StepFailed(TaskRunState s, StepRun step, string error, bool retryable, bool revise = true)
    {
        step.Error = error;
        var errorUntrusted = step.ErrorUntrusted;
        step.ErrorUntrusted = false;
        var maxAttempts = MaxAttempts(s, step);
        if (retryable && step.Attempts < maxAttempts && !s.Compensating)
        {
            step.Status = StepStatus.Pending;
            Log("step-retry", step.Id, new { step.Attempts, maxAttempts, error });
            return;
        }

        step.Status = StepStatus.Failed;
        step.CompletedAt = now;
        Log("step-failed", step.Id, new { step.Attempts, error });
        if (s.Compensating || s.RevisionPending)
        {
            return;
        }

        if (revise && s.Plan is not null && s.Revisions < options.MaxPlanRevisions)
        {
            s.Revisions++;
            s.RevisionPending = true;
            s.Reason = $"Step '{step.Id}' failed: {error}";
            var completed = s.Steps.Values.Where(x => x.Status == StepStatus.Succeeded).Select(x => x.Id).ToList();

            // The planner never reads untrusted text: a tool's own words reach it only as a reference to this step, the
            // platform's own texts (a timeout, governance not answering) as they are. Either way the revision is not tainted.
            var forPlanner = errorUntrusted ? WithheldError(step) : error;
            Effects.Published.Add(new RevisePlan(s.CorrelationId, s.Principal, s.Plan.PlanId, s.Plan.Version, step.Id, forPlanner, completed));
            Log("plan-revision-requested", step.Id, new { revision = s.Revisions, options.MaxPlanRevisions, error, errorWithheldFromPlanner = errorUntrusted, completedSteps = completed });
            return;
        }

        FailOrCompensate(s, $"Step '{step.Id}' failed: {error}");
    }

    private void Finish(TaskRunState s, TaskRunStatus status, string? reason)
    {
        s.Status = status;
        s.Compensating = false;
        s.RevisionPending = false;
        s.Reason = reason;
        s.FinishedAt = now;
        s.Result = BuildResult(s);
        Log("finished", null, new { status, reason, result = s.Result, usage = s.Usage });

        // Usage reported by the step that ends the task travels with the end (one message to governance, not two).
        var reports = Effects.Published.OfType<RecordUsage>().Where(r => r.TaskId == s.CorrelationId).ToList();
        Effects.Published.RemoveAll(m => m is RecordUsage r && r.TaskId == s.CorrelationId);
        Effects.Published.Add(new TaskRunFinished(s.CorrelationId, s.Principal, s.Goal, status, s.Result, reason, s.Usage, now, reports.Count > 0 ? reports : null, s.TemplateName));
    }

    /// <summary>The outputs of the succeeded steps as one JSON object (JSON outputs embedded, text as strings).</summary>
    public static string BuildResult(TaskRunState s)
    {
        var result = new JsonObject();
        foreach (var step in s.Steps.Values.Where(x => x.Status is StepStatus.Succeeded or StepStatus.Compensated or StepStatus.CompensationFailed))
        {
            JsonNode? value;
            try
            {
                value = step.Output is null ? null : JsonNode.Parse(step.Output);
            }
            catch (System.Text.Json.JsonException)
            {
                value = JsonValue.Create(step.Output);
            }

            result[step.Id] = value;
        }

        return result.ToJsonString();
    }

    private void Log(string kind, string? stepId, object? data) => Effects.Journal.Add(new JournalEntry(kind, stepId, data));

    /// <summary>Only a goal is planned by the planner model, which reads recalled memories; templates and explicit steps are not.</summary>
    private static bool NeedsMemories(TaskRunState s) => s.Goal is not null && s.TemplateName is null && s.RequestedSteps is null;

}

/// <summary>What <c>TaskRunEngine.Dispatch</c> did with a step.</summary>
internal enum DispatchResult
{
    /// <summary>Sent (or failed at once in a way the run goes on from).</summary>
    Dispatched,

    /// <summary>This model step waits for budget reserved by model steps in flight; a later Advance sends it.</summary>
    Waiting,

    /// <summary>The run stopped, or must wait as a whole (approval, revision, compensation).</summary>
    Stopped,
}
