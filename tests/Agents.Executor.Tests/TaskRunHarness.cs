using Agents.Contracts;
using Agents.Executor.StateMachines;
using Agents.Models;
using Agents.ServiceDefaults.Messaging;
using Agents.Testing;
using MassTransit;
using MassTransit.Saga;
using MassTransit.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Agents.Executor.Tests;

/// <summary>
/// The executor's saga and model worker on MassTransit's in-memory test harness. The test plays the other
/// services: it publishes their answers (TaskAdmitted, PlanCreated, ToolCallCompleted…) and inspects what the
/// saga published.
/// </summary>
internal sealed class TaskRunHarness : IAsyncDisposable
{
    // The harness runs in memory: what the saga does is seen within milliseconds.
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(20);

    private readonly ServiceProvider _provider;

    private TaskRunHarness(ServiceProvider provider)
    {
        _provider = provider;
        Harness = provider.GetRequiredService<ITestHarness>();
        Saga = Harness.GetSagaStateMachineHarness<TaskRunStateMachine, TaskRunState>();
        Journal = provider.GetRequiredService<InMemoryTaskJournal>();
        Chat = provider.GetRequiredService<RecordingChatClient>();
        Time = provider.GetRequiredService<FakeTimeProvider>();
        Budgets = provider.GetRequiredService<ModelBudgetDouble>();
    }

    /// <summary>Plays governance's daily budgets for model calls: grants what is asked unless a test says otherwise.</summary>
    public ModelBudgetDouble Budgets { get; }

    public static AgentPrincipal Principal { get; } = new("tenant-a", "user-1", ["agent-user"]);

    public ITestHarness Harness { get; }

    /// <summary>The address the saga gives governance for its model steps (the model worker's queue).</summary>
    public string ModelWorkerQueue => _provider.GetRequiredService<ExecutorEndpoints>().ModelWorker.ToString();

    public ISagaStateMachineTestHarness<TaskRunStateMachine, TaskRunState> Saga { get; }

    public InMemoryTaskJournal Journal { get; }

    public RecordingChatClient Chat { get; }

    public FakeTimeProvider Time { get; }

    public static async Task<TaskRunHarness> StartAsync(Action<ExecutorOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 9, 0, 0, TimeSpan.Zero));
        services.AddSingleton(time);
        services.AddSingleton<TimeProvider>(time);
        services.AddOptions<ExecutorOptions>().Configure(o => configure?.Invoke(o));
        services.AddExecutorRuntime();
        services.AddSingleton<InMemoryTaskJournal>();
        services.AddScoped<ITaskJournal>(sp => sp.GetRequiredService<InMemoryTaskJournal>());
        services.AddSingleton<IToolCatalog, InMemoryToolCatalog>();
        services.AddSingleton(RecordingChatClient.CreateDeterministic());
        services.AddSingleton(RecordingChatClient.Prices);
        services.AddKeyedSingleton<IChatClient>(ModelRoles.Executor, (sp, _) => sp.GetRequiredService<RecordingChatClient>());
        services.AddSingleton<ModelBudgetDouble>();
        services.AddMassTransitTestHarness(x =>
        {
            x.AddExecutorMessaging(saga => saga.InMemoryRepository());
            x.AddConsumer<ModelBudgetDouble.ReserveConsumer>();
            x.AddDelayedMessageScheduler();
            x.UsingInMemory((context, cfg) =>
            {
                cfg.UseDelayedMessageScheduler();
                cfg.ConfigureEndpoints(context);
                Consumers.ModelStepConsumer.ConfigureEndpoint(context, cfg);
            });
        });
        services.Configure<TestHarnessOptions>(o =>
        {
            o.TestTimeout = TimeSpan.FromSeconds(15);
            // Only how long stopping the harness waits for quiet: every wait of a test polls for what it waits for.
            o.TestInactivityTimeout = TimeSpan.FromMilliseconds(200);
        });

        var provider = services.BuildServiceProvider(true);
        var harness = new TaskRunHarness(provider);
        await harness.Harness.Start();
        return harness;
    }

    public Task PublishAsync<T>(T message)
        where T : class => Harness.Bus.Publish(message);

    /// <summary>Publishes <paramref name="message"/> with the message id <paramref name="messageId"/> (to wait for its consumption).</summary>
    public Task PublishAsync<T>(T message, Guid messageId)
        where T : class => Harness.Bus.Publish(message, context => context.MessageId = messageId);

    /// <summary>Sends SubmitTask (as the API does), admits the task and answers memory and planner with <paramref name="steps"/>.</summary>
    public async Task<Guid> StartRunningAsync(IReadOnlyList<PlanStep> steps, TaskLimits? limits = null, IReadOnlyDictionary<string, string>? parameters = null)
    {
        var id = await SubmitAsync(parameters: parameters);
        await PublishAsync(new TaskAdmitted(id, limits ?? new TaskLimits(), null));
        await WaitForAsync(id, s => s.Status == TaskRunStatus.Planning);
        await PublishAsync(new MemoriesRecalled(id, []));
        await WaitForAsync(id, s => s.PlanRequested);
        await PublishAsync(new PlanCreated(id, new Plan(Guid.NewGuid(), 1, "explicit", steps)));
        await WaitForAsync(id, s => s.Plan is not null);
        return id;
    }

    public async Task<Guid> SubmitAsync(string? goal = "Help the customer", IReadOnlyDictionary<string, string>? parameters = null)
    {
        var id = Guid.NewGuid();
        var endpoint = await Harness.Bus.GetSendEndpoint(_provider.GetRequiredService<ExecutorEndpoints>().TaskRun);
        await endpoint.Send(new SubmitTask(id, Principal, goal, null, parameters, null, null, null, Time.GetUtcNow()));
        await WaitForAsync(id, s => s.CurrentState == "Submitted");
        return id;
    }

    public async Task<Guid> SubmitTemplateAsync(string template, IReadOnlyDictionary<string, string>? parameters)
    {
        var id = Guid.NewGuid();
        var endpoint = await Harness.Bus.GetSendEndpoint(_provider.GetRequiredService<ExecutorEndpoints>().TaskRun);
        await endpoint.Send(new SubmitTask(id, Principal, null, template, parameters, null, null, null, Time.GetUtcNow()));
        await WaitForAsync(id, s => s.CurrentState == "Submitted");
        return id;
    }

    /// <summary>Sends <paramref name="message"/> to the saga's own queue, as the task API does.</summary>
    public async Task SendAsync<T>(T message)
        where T : class
    {
        var endpoint = await Harness.Bus.GetSendEndpoint(_provider.GetRequiredService<ExecutorEndpoints>().TaskRun);
        await endpoint.Send(message);
    }

    /// <summary>Sends SubmitTask for a replay of <paramref name="original"/> with the original's goal or template.</summary>
    public async Task<Guid> SubmitReplayAsync(Guid original, string? goal = "Help the customer", string? template = null, IReadOnlyDictionary<string, string>? parameters = null)
    {
        var id = Guid.NewGuid();
        var endpoint = await Harness.Bus.GetSendEndpoint(_provider.GetRequiredService<ExecutorEndpoints>().TaskRun);
        await endpoint.Send(new SubmitTask(id, Principal, goal, template, parameters, null, null, null, Time.GetUtcNow(), ReplayOf: original));
        await WaitForAsync(id, s => s.CurrentState == "Submitted");
        return id;
    }

    public Task AnnounceAsync(string tool, SideEffectClass sideEffect, bool compensable = false, bool untrusted = false) =>
        PublishAsync(new ToolAnnounced(
            new ToolDescriptor(tool, tool, "{}", "{}", sideEffect, RiskTier.Low, "tools", compensable, untrusted, 10, "1"),
            "test",
            Time.GetUtcNow()));

    public Task CompleteToolAsync(Guid id, string stepId, string tool, ToolCallOutcome outcome = ToolCallOutcome.Succeeded, string? output = "{}", bool untrusted = true, Guid? approvalId = null, bool compensation = false) =>
        PublishAsync(new ToolCallCompleted(id, stepId, tool, outcome, output, outcome == ToolCallOutcome.Succeeded ? null : "tool said no", untrusted, 1, 5, approvalId, compensation));

    /// <summary>
    /// Polls the saga instance until <paramref name="condition"/> holds between two of its consumes (the harness is
    /// asynchronous). The in-memory instance changes in place while a message is consumed, before that consume writes the
    /// task's log and publishes; the condition is therefore read again while the repository's lock on the instance is
    /// held, so that what the test then reads (the log, the published messages) is as of the same moment.
    /// </summary>
    public async Task<TaskRunState> WaitForAsync(Guid id, Func<TaskRunState, bool> condition, string? because = null)
    {
        TaskRunState? instance = null;
        await Poll.UntilAsync(
            async () => (instance = Saga.Sagas.Contains(id)) is not null && condition(instance) && await HoldsBetweenConsumesAsync(id, condition),
            () => $"task {id}: {because ?? "condition"}; state {instance?.CurrentState}, status {instance?.Status}, reason {instance?.Reason}, " +
                $"steps {string.Join(", ", instance?.Steps.Values.Select(s => $"{s.Id}={s.Status}/{s.Attempts}") ?? [])}",
            Within,
            Every);
        return instance!;
    }

    private async Task<bool> HoldsBetweenConsumesAsync(Guid id, Func<TaskRunState, bool> condition)
    {
        // (The task run saga is never removed from the repository: it has no final state that deletes it.)
        var entry = _provider.GetRequiredService<IndexedSagaDictionary<TaskRunState>>()[id];

        using var waiting = new CancellationTokenSource(Within);
        await entry.MarkInUse(waiting.Token);
        try
        {
            return condition(entry.Instance);
        }
        finally
        {
            entry.Release();
        }
    }

    /// <summary>Waits until <paramref name="count"/> messages of type <typeparamref name="T"/> matching <paramref name="filter"/> were published.</summary>
    public async Task<List<T>> PublishedAsync<T>(Func<T, bool> filter, int count = 1)
        where T : class
    {
        List<T> found = [];
        await Poll.UntilAsync(() => (found = PublishedNow(filter)).Count >= count, () => $"{count} {typeof(T).Name} messages (saw {found.Count})", Within, Every);
        return found;
    }

    /// <summary>
    /// Waits for <paramref name="count"/> usage reports matching <paramref name="filter"/>: published on their own, or
    /// carried by the task's <see cref="TaskRunFinished"/> when the reporting step ended the task.
    /// </summary>
    public async Task<List<RecordUsage>> UsageReportsAsync(Func<RecordUsage, bool> filter, int count = 1)
    {
        List<RecordUsage> found = [];
        await Poll.UntilAsync(
            () => (found = Harness.Published.Select<RecordUsage>().Select(x => x.Context.Message)
                .Concat(Harness.Published.Select<TaskRunFinished>().SelectMany(x => x.Context.Message.UsageReports ?? []))
                .Where(filter)
                .ToList()).Count >= count,
            () => $"{count} usage reports (saw {found.Count})",
            Within,
            Every);
        return found;
    }

    /// <summary>
    /// Waits until the bus has consumed a message of type <typeparamref name="T"/> matching <paramref name="filter"/>
    /// (MassTransit's own <c>Consumed.Any</c> gives up once the harness has looked idle for a moment).
    /// </summary>
    public Task ConsumedAsync<T>(Func<IReceivedMessage<T>, bool> filter)
        where T : class =>
        Poll.UntilAsync(() => Harness.Consumed.Select<T>(x => filter(x)).Any(), () => $"a consumed {typeof(T).Name}", Within, Every);

    public List<T> PublishedNow<T>(Func<T, bool> filter)
        where T : class => Harness.Published.Select<T>().Select(x => x.Context.Message).Where(filter).ToList();

    public async ValueTask DisposeAsync()
    {
        Budgets.Held.TrySetResult();

        // Bounded: a hosted service that did not stop would otherwise hold the test run until the CI's own limit.
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Harness.Stop(stopping.Token);
        await _provider.DisposeAsync();
    }
}

/// <summary>
/// Governance double for <see cref="ReserveModelBudget"/> (governance's own answer is tested in the governance tests):
/// records every request and answers with <see cref="Answer"/>, which grants what was asked by default.
/// </summary>
internal sealed class ModelBudgetDouble
{
    public System.Collections.Concurrent.ConcurrentQueue<ReserveModelBudget> Requests { get; } = new();

    public Func<ReserveModelBudget, ModelBudgetReservation> Answer { get; set; } = r => new ModelBudgetReservation(true, r.MaxOutputTokens, null, false);

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    internal sealed class ReserveConsumer(ModelBudgetDouble budgets) : IConsumer<ReserveModelBudget>
    {
        public async Task Consume(ConsumeContext<ReserveModelBudget> context)
        {
            budgets.Requests.Enqueue(context.Message);
            await budgets.Held.Task;
            await ModelBudgetAnswers.AnswerAsync(context, budgets.Answer(context.Message));
        }
    }

    /// <summary>Answers wait until this completes (a slow governance: the model step stays in flight meanwhile); set a new, pending source to hold them.</summary>
    public TaskCompletionSource Held { get; set; } = CompletedGate();
}
