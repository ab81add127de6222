using Agents.Contracts;
using Agents.Executor.Telemetry;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Agents.Executor.StateMachines;

/// <summary>
/// The <c>TaskRun</c> saga: Submitted → Planning → Running ⇄ AwaitingApproval (→ Compensating) → a terminal state
/// (Completed, Failed, Cancelled, BudgetExceeded, Compensated, Rejected). The decisions live in
/// <see cref="TaskRunEngine"/>; this class wires messages to them, applies their effects (publish, send,
/// schedule, event log, task view) and moves to the state the engine arrived at.
/// </summary>
public sealed class TaskRunStateMachine : MassTransitStateMachine<TaskRunState>
{
    public TaskRunStateMachine()
    {
        InstanceState(x => x.CurrentState);

        Event(() => SubmitTask, x => x.CorrelateById(m => m.Message.TaskId));
        Event(() => CancelTask, x => x.CorrelateById(m => m.Message.TaskId));
        Event(() => TaskAdmitted, x => ExistingOnly(x.CorrelateById(m => m.Message.TaskId)));
        Event(() => TaskRejected, x => ExistingOnly(x.CorrelateById(m => m.Message.TaskId)));
        Event(() => MemoriesRecalled, x => ExistingOnly(x.CorrelateById(m => m.Message.TaskId)));
        Event(() => MemoryRecallTimedOut, x => ExistingOnly(x.CorrelateById(m => m.Message.TaskId)));
        Event(() => PlanCreated, x => ExistingOnly(x.CorrelateById(m => m.Message.TaskId)));
        Event(() => PlanRejected, x => ExistingOnly(x.CorrelateById(m => m.Message.TaskId)));
        Event(() => ToolCallCompleted, x => ExistingOnly(x.CorrelateById(m => m.Message.TaskId)));
        Event(() => ModelStepCompleted, x => ExistingOnly(x.CorrelateById(m => m.Message.TaskId)));
        Event(() => StepTimedOut, x => ExistingOnly(x.CorrelateById(m => m.Message.TaskId)));
        Event(() => ApprovalDecided, x => ExistingOnly(x.CorrelateById(m => m.Message.TaskId)));

        // Late, duplicate and stale messages are expected (retries, redeliveries, parallel steps): ignore them.
        OnUnhandledEvent(x => x.Ignore());

        Initially(
            Handle(SubmitTask, (e, s, m) => e.Submit(s, m)),
            Handle(CancelTask, (e, s, m) => e.Cancel(s, m)));

        During(Submitted,
            Handle(TaskAdmitted, (e, s, m) => e.TaskAdmitted(s, m)),
            Handle(TaskRejected, (e, s, m) => e.TaskRejected(s, m)));

        During(Planning,
            Handle(MemoriesRecalled, (e, s, m) => e.MemoriesRecalled(s, m)),
            Handle(MemoryRecallTimedOut, (e, s, _) => e.MemoryRecallTimedOut(s)));

        // A template's or explicit steps' plan comes with the admission (governance passes the planning request on), or
        // before it when an admission was answered without passing it on.
        During(Submitted, Planning, Running, AwaitingApproval,
            Handle(PlanCreated, (e, s, m) => e.PlanCreated(s, m)),
            Handle(PlanRejected, (e, s, m) => e.PlanRejected(s, m)));

        During(Running, AwaitingApproval, Compensating,
            Handle(ToolCallCompleted, (e, s, m) => e.ToolCallCompleted(s, m)),
            Handle(ModelStepCompleted, (e, s, m) => e.ModelStepCompleted(s, m)),
            Handle(StepTimedOut, (e, s, m) => e.StepTimedOut(s, m)),
            Handle(ApprovalDecided, (e, s, m) => e.ApprovalDecided(s, m)));

        // A model call answered after the task ended still reports what it used (and settles its budget reservation).
        During(Completed, Failed, Cancelled,
            Handle(ModelStepCompleted, (e, s, m) => e.ModelStepCompleted(s, m)));
        During(BudgetExceeded, Compensated,
            Handle(ModelStepCompleted, (e, s, m) => e.ModelStepCompleted(s, m)));

        // The engine ignores a cancel in a terminal state.
        DuringAny(
            Handle(CancelTask, (e, s, m) => e.Cancel(s, m)));
    }

    public State Submitted { get; private set; } = null!;

    public State Planning { get; private set; } = null!;

    public State Running { get; private set; } = null!;

    public State AwaitingApproval { get; private set; } = null!;

    public State Compensating { get; private set; } = null!;

    public State Completed { get; private set; } = null!;

    public State Failed { get; private set; } = null!;

    public State Cancelled { get; private set; } = null!;

    public State BudgetExceeded { get; private set; } = null!;

    public State Compensated { get; private set; } = null!;

    public State Rejected { get; private set; } = null!;

    public Event<SubmitTask> SubmitTask { get; private set; } = null!;

    public Event<CancelTask> CancelTask { get; private set; } = null!;

    public Event<TaskAdmitted> TaskAdmitted { get; private set; } = null!;

    public Event<TaskRejected> TaskRejected { get; private set; } = null!;

    public Event<MemoriesRecalled> MemoriesRecalled { get; private set; } = null!;

    public Event<MemoryRecallTimedOut> MemoryRecallTimedOut { get; private set; } = null!;

    public Event<PlanCreated> PlanCreated { get; private set; } = null!;

    public Event<PlanRejected> PlanRejected { get; private set; } = null!;

    public Event<ToolCallCompleted> ToolCallCompleted { get; private set; } = null!;

    public Event<ModelStepCompleted> ModelStepCompleted { get; private set; } = null!;

    public Event<StepTimedOut> StepTimedOut { get; private set; } = null!;

    public Event<ApprovalDecided> ApprovalDecided { get; private set; } = null!;

    private static void ExistingOnly<T>(IEventCorrelationConfigurator<TaskRunState, T> correlation)
        where T : class =>
        correlation.OnMissingInstance(m => m.Discard());

    private EventActivityBinder<TaskRunState, T> Handle<T>(Event<T> @event, Action<TaskRunEngine, TaskRunState, T> handler)
        where T : class
    {
        var binder = When(@event).ThenAsync(context => ApplyAsync(context, handler));
        foreach (var state in new[] { Submitted, Planning, Running, AwaitingApproval, Compensating, Completed, Failed, Cancelled, BudgetExceeded, Compensated, Rejected })
        {
            var target = state;
            binder = binder.If(c => PhaseOf(c.Saga) == target.Name && c.Saga.CurrentState != target.Name, b => b.TransitionTo(target));
        }

        return binder;
    }

    private static string PhaseOf(TaskRunState state) => state.Phase;

    /// <summary>The catalog entries the engine may need for this message: only a completed tool call looks tools up.</summary>
    private static async Task<ToolCatalogSnapshot> LoadCatalogAsync<T>(BehaviorContext<TaskRunState, T> context, TaskRunState saga)
        where T : class
    {
        if (context.Message is not ToolCallCompleted completed)
        {
            return ToolCatalogSnapshot.Empty;
        }

        // The registry's answer says what the tool is; the catalog fed by announcements serves answers that do not.
        if (completed.SideEffect is { } sideEffect)
        {
            return new ToolCatalogSnapshot(new Dictionary<string, CatalogTool>(StringComparer.Ordinal)
            {
                [completed.Tool] = new CatalogTool(completed.Tool, sideEffect, completed.Compensable ?? false),
            });
        }

        var names = new List<string>(2);
        if (completed.Tool is { } tool)
        {
            names.Add(tool);
        }

        if (completed.StepId is not null && saga.Steps.TryGetValue(completed.StepId, out var step) && step.Tool is { } stepTool)
        {
            names.Add(stepTool);
        }

        var tools = await context.GetServiceOrCreateInstance<IToolCatalog>().FindAsync(names, context.CancellationToken);
        return new ToolCatalogSnapshot(tools);
    }

    private static async Task ApplyAsync<T>(BehaviorContext<TaskRunState, T> context, Action<TaskRunEngine, TaskRunState, T> handler)
        where T : class
    {
        var options = context.GetServiceOrCreateInstance<IOptions<ExecutorOptions>>().Value;
        var time = context.GetServiceOrCreateInstance<TimeProvider>();
        var saga = context.Saga;
        var now = time.GetUtcNow();
        if (saga.SubmittedAt == default)
        {
            saga.SubmittedAt = now;
        }

        using var activity = ExecutorTelemetry.StartRun(saga.CorrelationId, typeof(T).Name);
        var before = PhaseOf(saga);
        var catalog = await LoadCatalogAsync(context, saga);
        var prices = context.GetServiceOrCreateInstance<ModelStepPrice>();
        var engine = new TaskRunEngine(options, catalog, now, prices.Current, prices.For);
        handler(engine, saga, context.Message);
        var effects = engine.Effects;
        var journal = context.GetServiceOrCreateInstance<ITaskJournal>();
        var replayed = saga.ReplayOf is { } original && RecordedAnswers.Needed(saga, effects)
            ? RecordedAnswers.Substitute(saga, await journal.ReadAsync(original, RecordedAnswers.Kinds, context.CancellationToken), effects)
            : null;
        var after = PhaseOf(saga);
        activity?.SetTag("agents.task.status", saga.Status.ToString());
        var deadlines = StepDeadlines.Plan(saga, now + options.StepTimeout);
        if (effects.Journal.Count == 0 && effects.Published.Count == 0 && before == after && deadlines.IsNone && effects.Scheduled.Count == 0)
        {
            return;
        }

        if (before != after)
        {
            // "finished" stays the last entry of a task's log.
            var finished = effects.Journal.FindIndex(e => e.Kind == "finished");
            effects.Journal.Insert(finished < 0 ? effects.Journal.Count : finished, new JournalEntry("transition", null, new { from = before, to = after }));
        }

        saga.UpdatedAt = now;
        journal.Append(saga, effects.Journal, now);
        if (before != after)
        {
            journal.Snapshot(saga);
        }
        ExecutorTelemetry.Observe(activity, saga, effects.Journal, context.Message, now);

        foreach (var message in effects.Published)
        {
            var step = message as InvokeTool;
            using var stepActivity = step is null ? null : ExecutorTelemetry.StartStep(saga.CorrelationId, step.StepId, StepKind.Tool, step.Tool);
            await context.Publish(message, message.GetType(), context.CancellationToken);
        }

        if (replayed is { Count: > 0 })
        {
            // A replay's answers come from the original's log and go to the run itself, never to another service.
            var self = await context.GetSendEndpoint(context.GetServiceOrCreateInstance<ExecutorEndpoints>().TaskRun);
            foreach (var answer in replayed)
            {
                await self.Send(answer, answer.GetType(), context.CancellationToken);
            }
        }

        if (effects.ModelSteps.Count > 0)
        {
            // A model step goes to the model worker by way of governance's budget reservation, which sends it on with its answer.
            var worker = context.GetServiceOrCreateInstance<ExecutorEndpoints>().ModelWorker;
            var price = context.GetServiceOrCreateInstance<ModelStepPrice>();
            foreach (var message in effects.ModelSteps.Cast<RunModelStep>())
            {
                using var stepActivity = ExecutorTelemetry.StartStep(saga.CorrelationId, message.StepId, StepKind.Model, null);
                var reservation = Consumers.ModelStepConsumer.Reservation(message, price, options) with { ThenRun = message, ThenRunAt = worker };
                await context.Publish(reservation, context.CancellationToken);
            }
        }

        // One wake-up for the timeouts of all running steps (StepDeadlines): a task whose steps stopped running leaves
        // nothing behind to fire later (a stale one would be ignored, but costs a delivery and a transaction).
        foreach (var step in deadlines.Cancel)
        {
            await context.GetPayload<MessageSchedulerContext>().CancelScheduledPublish<StepTimedOut>(step.TimeoutToken!.Value, context.CancellationToken);
            step.TimeoutToken = null;
            step.TimeoutAttempt = null;
            step.TimeoutAt = null;
        }

        if (deadlines.ScheduleFor is { DueAt: { } due } next)
        {
            var delay = due > now ? due - now : TimeSpan.Zero;
            var scheduled = await context.SchedulePublish(delay, new StepTimedOut(saga.CorrelationId, next.Id, next.Dispatches), context.CancellationToken);
            next.TimeoutToken = scheduled.TokenId;
            next.TimeoutAttempt = next.Dispatches;
            next.TimeoutAt = due;
        }

        foreach (var (delay, message) in effects.Scheduled)
        {
            if (message is MemoryRecallTimedOut timeout)
            {
                await context.SchedulePublish(delay, timeout, context.CancellationToken);
            }
        }
    }
}
