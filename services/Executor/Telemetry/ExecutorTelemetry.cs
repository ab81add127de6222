using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Agents.Contracts;
using Agents.Executor.StateMachines;

namespace Agents.Executor.Telemetry;

/// <summary>
/// The executor's spans (<c>invoke_workflow</c>, following the GenAI conventions) and metrics. The task-run metrics
/// are read from what the engine logged for one message (<see cref="Observe"/>), so the saga needs one call and the
/// engine none. Every tag comes from a bounded set: tenant, template (templates are checked at submission; a goal or
/// explicit steps read <c>(goal)</c> / <c>(steps)</c>), status, step kind, tool, outcome; never a task or step id.
/// </summary>
internal static class ExecutorTelemetry
{
    public const string Name = "Agents.Executor";

    public const string TenantTag = "agents.tenant";
    public const string TemplateTag = "agents.task.template";
    public const string TemplateVersionTag = "agents.task.template_version";
    public const string RolloutTag = "agents.task.rollout";
    public const string StatusTag = "agents.task.status";
    public const string StepKindTag = "agents.step.kind";
    public const string StepOutcomeTag = "agents.step.outcome";
    public const string ToolTag = "gen_ai.tool.name";
    public const string GuardrailTag = "agents.guardrail";

    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);

    private static readonly Counter<long> SubmittedCounter = Meter.CreateCounter<long>(
        "agents.task.submitted", "{task}", "Task runs submitted, by tenant and template.");

    private static readonly Counter<long> Finished = Meter.CreateCounter<long>(
        "agents.task.finished", "{task}", "Task runs that reached a terminal state, by tenant, template, template version, rollout side and final state.");

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(
        "agents.task.duration", "s", "Time from submission to the terminal state, by tenant, template, template version, rollout side and final state.");

    private static readonly Histogram<int> StepsPerTask = Meter.CreateHistogram<int>(
        "agents.task.steps", "{step}", "Steps started by a finished task run.",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 3, 5, 8, 13, 21, 34] });

    private static readonly Histogram<double> CostPerTask = Meter.CreateHistogram<double>(
        "agents.task.cost", "{currency}", "Model cost of a finished task run, by tenant, template, template version and rollout side.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5] });

    private static readonly Histogram<double> StepDuration = Meter.CreateHistogram<double>(
        "agents.step.duration", "s", "Time from a step's first dispatch to its end, by kind, tool and outcome.");

    private static readonly Counter<long> StepRetries = Meter.CreateCounter<long>(
        "agents.step.retries", "{retry}", "Step attempts that failed and are tried again, by kind and tool.");

    private static readonly Counter<long> PlanRevisions = Meter.CreateCounter<long>(
        "agents.plan.revisions", "{revision}", "Plan revisions asked for after a failed step, by tenant and template.");

    private static readonly Counter<long> Compensations = Meter.CreateCounter<long>(
        "agents.task.compensations", "{task}", "Task runs that started compensating their completed side effects.");

    private static readonly Counter<long> CompensationCalls = Meter.CreateCounter<long>(
        "agents.compensation.calls", "{call}", "Compensating tool calls, by tool and outcome.");

    private static readonly Counter<long> GuardrailHits = Meter.CreateCounter<long>(
        "agents.guardrail.hits", "{hit}", "Runs stopped or steps refused by a guardrail, by guardrail and tenant.");

    private static readonly Counter<long> ModelTokens = Meter.CreateCounter<long>(
        "agents.usage.tokens", "{token}", "Tokens of the executor's model steps, by tenant, role, model and token type.");

    private static readonly Counter<double> ModelCost = Meter.CreateCounter<double>(
        "agents.usage.cost", "{currency}", "Cost of the executor's model steps, by tenant, role and model.");

    /// <summary>A span for the task run handling one message.</summary>
    public static Activity? StartRun(Guid taskId, string trigger)
    {
        var activity = Source.StartActivity("invoke_workflow task-run", ActivityKind.Internal);
        activity?.SetTag("gen_ai.operation.name", "invoke_workflow");
        activity?.SetTag("agents.task.id", taskId.ToString());
        activity?.SetTag("agents.task.trigger", trigger);
        return activity;
    }

    /// <summary>A span for dispatching one step.</summary>
    public static Activity? StartStep(Guid taskId, string stepId, StepKind kind, string? tool)
    {
        var activity = Source.StartActivity("invoke_workflow " + stepId, ActivityKind.Producer);
        activity?.SetTag("gen_ai.operation.name", "invoke_workflow");
        activity?.SetTag("agents.task.id", taskId.ToString());
        activity?.SetTag("agents.step.id", stepId);
        activity?.SetTag("agents.step.kind", kind.ToString());
        if (tool is not null)
        {
            activity?.SetTag("gen_ai.tool.name", tool);
        }

        return activity;
    }

    /// <summary>A span for one model step in the model worker.</summary>
    public static Activity? StartModelStep(Guid taskId, string stepId)
    {
        var activity = Source.StartActivity("invoke_workflow model-step", ActivityKind.Consumer);
        activity?.SetTag("gen_ai.operation.name", "invoke_workflow");
        activity?.SetTag("agents.task.id", taskId.ToString());
        activity?.SetTag("agents.step.id", stepId);
        return activity;
    }

    /// <summary>
    /// Records what handling <paramref name="message"/> did to the run (the engine's log entries for it) as metrics,
    /// and puts the run's quality signals on <paramref name="activity"/>: its state, steps, tool calls, approvals,
    /// guardrail hits, tokens and cost. The span of the message that ends the run carries the run's totals.
    /// </summary>
    public static void Observe(Activity? activity, TaskRunState saga, List<JournalEntry> journal, object message, DateTimeOffset now)
    {
        var guardrails = 0;
        foreach (var entry in journal)
        {
            var step = entry.StepId is not null && saga.Steps.TryGetValue(entry.StepId, out var run) ? run : null;
            switch (entry.Kind)
            {
                case "submitted":
                    Submitted(saga);
                    break;
                case "step-succeeded" or "step-failed" when step is not null:
                    RecordStep(step, entry.Kind == "step-succeeded" ? "succeeded" : "failed", now);
                    if (entry.Kind == "step-failed" && message is ToolCallCompleted { Outcome: ToolCallOutcome.Denied or ToolCallOutcome.InvalidArguments } refused)
                    {
                        guardrails++;
                        GuardrailHits.Add(1, Tenant(saga), new(GuardrailTag, refused.Outcome == ToolCallOutcome.Denied ? "tool_denied" : "invalid_arguments"));
                    }
                    else if (entry.Kind == "step-failed" && message is ApprovalDecided { Approved: false, Expired: false })
                    {
                        guardrails++;
                        GuardrailHits.Add(1, Tenant(saga), new(GuardrailTag, "approval_rejected"));
                    }

                    break;
                case "step-retry" when step is not null:
                    StepRetries.Add(1, Kind(step), Tool(step));
                    break;
                case "plan-revision-requested":
                    PlanRevisions.Add(1, Tenant(saga), Template(saga));
                    break;
                case "compensation-started":
                    Compensations.Add(1, Tenant(saga), Template(saga));
                    break;
                case "compensation-call" when message is ToolCallCompleted compensation:
                    CompensationCalls.Add(1, new(ToolTag, compensation.Tool), new(StepOutcomeTag, compensation.Outcome.ToString()));
                    break;
                case "loop-detected":
                    guardrails++;
                    GuardrailHits.Add(1, Tenant(saga), new(GuardrailTag, "loop"));
                    break;
                case "budget-exceeded":
                    guardrails++;
                    GuardrailHits.Add(1, Tenant(saga), new(GuardrailTag, "budget"));
                    break;
                case "model-call-refused":
                    guardrails++;
                    GuardrailHits.Add(1, Tenant(saga), new(GuardrailTag, "model_refused"));
                    break;
                case "model-call" when message is ModelStepCompleted model:
                    RecordModelUsage(saga, model);
                    break;
                case "finished":
                    RecordFinished(saga, now);
                    break;
            }
        }

        if (activity is null)
        {
            return;
        }

        activity.SetTag(StatusTag, saga.Status.ToString());
        activity.SetTag(TenantTag, saga.Principal.TenantId);
        activity.SetTag(TemplateTag, TemplateOf(saga));
        if (guardrails > 0)
        {
            activity.SetTag("agents.guardrail.hits", guardrails);
        }

        if (saga.IsTerminal)
        {
            activity.SetTag("agents.task.goal_reached", saga.Status == TaskRunStatus.Completed);
            activity.SetTag("agents.task.steps", saga.StepsStarted);
            activity.SetTag("agents.task.tool_calls", saga.ToolCalls);
            activity.SetTag("agents.task.approvals", CountApprovals(saga));
            activity.SetTag("agents.task.plan_revisions", saga.Revisions);
            activity.SetTag("gen_ai.usage.input_tokens", saga.InputTokens);
            activity.SetTag("gen_ai.usage.output_tokens", saga.OutputTokens);
            activity.SetTag("agents.cost", (double)saga.Cost);
            if (saga.Status != TaskRunStatus.Completed)
            {
                activity.SetTag("error.type", saga.Status.ToString());
                activity.SetStatus(ActivityStatusCode.Error, saga.Reason);
            }
        }
    }

    /// <summary>Counts a submitted run (the task API starts runs itself, without a message to the saga).</summary>
    public static void Submitted(TaskRunState saga) => SubmittedCounter.Add(1, Tenant(saga), Template(saga));

    /// <summary>The template tag of a run: the template's name, or how the run was given its steps.</summary>
    public static string TemplateOf(TaskRunState saga) =>
        saga.TemplateName ?? (saga.RequestedSteps is not null ? "(steps)" : "(goal)");

    private static void RecordFinished(TaskRunState saga, DateTimeOffset now)
    {
        // Split by template version and rollout side, so a candidate's figures can be watched beside the stable one's.
        var version = new KeyValuePair<string, object?>(TemplateVersionTag, saga.TemplateVersion?.ToString(CultureInfo.InvariantCulture) ?? string.Empty);
        var rollout = new KeyValuePair<string, object?>(RolloutTag, saga.TemplateRollout ?? string.Empty);
        var tags = new TagList { Tenant(saga), Template(saga), version, rollout, { StatusTag, saga.Status.ToString() } };
        Finished.Add(1, tags);
        Duration.Record(((saga.FinishedAt ?? now) - saga.SubmittedAt).TotalSeconds, tags);
        StepsPerTask.Record(saga.StepsStarted, tags);
        CostPerTask.Record((double)saga.Cost, Tenant(saga), Template(saga), version, rollout);
    }

    private static void RecordStep(StepRun step, string outcome, DateTimeOffset now)
    {
        if (step.StartedAt is { } started)
        {
            StepDuration.Record(((step.CompletedAt ?? now) - started).TotalSeconds, Kind(step), Tool(step), new(StepOutcomeTag, outcome));
        }
    }

    private static void RecordModelUsage(TaskRunState saga, ModelStepCompleted model)
    {
        var role = new KeyValuePair<string, object?>("agents.model.role", "executor");
        var name = new KeyValuePair<string, object?>("gen_ai.request.model", model.Model);
        ModelTokens.Add(model.InputTokens, Tenant(saga), role, name, new("gen_ai.token.type", "input"));
        ModelTokens.Add(model.OutputTokens, Tenant(saga), role, name, new("gen_ai.token.type", "output"));
        ModelCost.Add((double)model.Cost, Tenant(saga), role, name);
    }

    private static int CountApprovals(TaskRunState saga)
    {
        var count = 0;
        foreach (var step in saga.Steps.Values)
        {
            if (step.ApprovalId is not null)
            {
                count++;
            }
        }

        return count;
    }

    private static KeyValuePair<string, object?> Tenant(TaskRunState saga) => new(TenantTag, saga.Principal.TenantId);

    private static KeyValuePair<string, object?> Template(TaskRunState saga) => new(TemplateTag, TemplateOf(saga));

    private static KeyValuePair<string, object?> Kind(StepRun step) => new(StepKindTag, step.Kind == StepKind.Tool ? "tool" : "model");

    private static KeyValuePair<string, object?> Tool(StepRun step) => new(ToolTag, step.Tool ?? string.Empty);
}
