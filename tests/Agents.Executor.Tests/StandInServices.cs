using System.Collections.Concurrent;
using Agents.Contracts;
using Agents.ServiceDefaults.Messaging;
using Agents.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Executor.Tests;

/// <summary>
/// Test doubles for the services around the executor (governance, memory, planner, tool-gateway), on their own
/// bus with the executor's queue prefix (which also prefixes the message-type exchanges, so only this test's
/// executor talks to them).
/// Always: the planner (<see cref="PlannerStandIn"/>: plans known templates and steps, refuses unknown ones), governance's
/// model-call budget reservation (granted) and its tenant access rules (the default policy's roles). With <c>runServices</c>: they also admit every task, recall no memories and
/// record every tool invocation. Tool calls are answered at once unless <see cref="HoldTool"/> says to keep them
/// pending (the test then answers with <see cref="CompleteAsync"/>).
/// </summary>
internal sealed class StandInServices : IAsyncDisposable
{
    private readonly ServiceProvider _provider;
    private readonly IBusControl _bus;

    private StandInServices(ServiceProvider provider)
    {
        _provider = provider;
        _bus = provider.GetRequiredService<IBusControl>();
        State = provider.GetRequiredService<StandInState>();
    }

    public StandInState State { get; }

    /// <summary>Tool calls for which this returns true are recorded but not answered.</summary>
    public Func<InvokeTool, bool> HoldTool
    {
        get => State.Hold;
        set => State.Hold = value;
    }

    /// <summary>The step of <see cref="DrainAsync"/>'s marker calls.</summary>
    public const string MarkerStep = "stand-ins-marker";

    /// <summary>Tools the planner double knows; templates it knows.</summary>
    public static readonly string[] KnownTools = ["crm.lookup-customer", "tickets.create", "web.fetch"];

    public static readonly string[] KnownTemplates = ["triage-customer-issue", "lookup-and-summarize"];

    public static async Task<StandInServices> StartAsync(string brokerUri, string queuePrefix, bool runServices = true)
    {
        var services = new ServiceCollection();
        services.AddSingleton<StandInState>();
        services.AddMassTransit(x =>
        {
            x.AddConsumer<AdmissionStandIn>();
            x.AddConsumer<MemoryStandIn>();
            x.AddConsumer<PlannerStandIn>();
            x.AddConsumer<ToolGatewayStandIn>();
            x.AddConsumer<ModelBudgetStandIn>();
            x.AddConsumer<TenantAccessStandIn>();
            x.UsingRabbitMq((context, cfg) =>
            {
                var broker = new Uri(brokerUri);
                var credentials = broker.UserInfo.Split(':');
                cfg.Host(broker.Host, (ushort)(broker.Port > 0 ? broker.Port : 5672), Uri.UnescapeDataString(broker.AbsolutePath.TrimStart('/')) is { Length: > 0 } vhost ? vhost : "/", h =>
                {
                    h.Username(Uri.UnescapeDataString(credentials[0]));
                    h.Password(Uri.UnescapeDataString(credentials.ElementAtOrDefault(1) ?? string.Empty));
                });

                // The executor's conventions: with its queue prefix, message-type exchanges are prefixed too.
                BusConventions.Apply(cfg, new BusOptions { QueuePrefix = queuePrefix });
                cfg.ReceiveEndpoint($"{queuePrefix}-stand-ins", e =>
                {
                    e.AutoDelete = true;
                    e.Durable = false;

                    // One message at a time, in the queue's order: a marker that arrived means all before it did (DrainAsync).
                    e.ConcurrentMessageLimit = 1;
                    e.ConfigureConsumer<PlannerStandIn>(context);
                    e.ConfigureConsumer<ModelBudgetStandIn>(context);
                    e.ConfigureConsumer<TenantAccessStandIn>(context);
                    if (runServices)
                    {
                        e.ConfigureConsumer<AdmissionStandIn>(context);
                        e.ConfigureConsumer<MemoryStandIn>(context);
                        e.ConfigureConsumer<ToolGatewayStandIn>(context);
                    }
                });
            });
        });
        var provider = services.BuildServiceProvider();
        var standIns = new StandInServices(provider);
        await standIns._bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        return standIns;
    }

    /// <summary>Answers a held tool call as the tool-gateway would after a successful call.</summary>
    public Task CompleteAsync(InvokeTool call, string outputJson) => _bus.Publish(
        new ToolCallCompleted(call.TaskId, call.StepId, call.Tool, ToolCallOutcome.Succeeded, outputJson, null, false, 1, 3, call.ApprovalId, call.Compensate));

    /// <summary>Answers a held tool call with an outcome other than success (as the tool-gateway would).</summary>
    public Task AnswerAsync(InvokeTool call, ToolCallOutcome outcome, string error) => _bus.Publish(
        new ToolCallCompleted(call.TaskId, call.StepId, call.Tool, outcome, null, error, false, 1, 3, call.ApprovalId, call.Compensate));

    /// <summary>Waits until a tool call for <paramref name="stepId"/> of <paramref name="taskId"/> arrived.</summary>
    public async Task<InvokeTool> WaitForInvocationAsync(Guid taskId, string stepId, TimeSpan timeout)
    {
        InvokeTool? call = null;
        await Poll.UntilAsync(
            () => (call = State.Invocations.FirstOrDefault(c => c.TaskId == taskId && c.StepId == stepId)) is not null,
            () => $"an InvokeTool for step '{stepId}' of task {taskId}; saw {string.Join(", ", State.Invocations.Select(c => c.StepId))}",
            timeout,
            TimeSpan.FromMilliseconds(50));
        return call!;
    }

    /// <summary>
    /// Returns once every tool call already on the broker has been recorded: publishes a marker call (recorded, never
    /// answered) and waits for it. The stand-ins' queue is handled one message at a time in order, so the calls before the
    /// marker were recorded first.
    /// </summary>
    public async Task DrainAsync()
    {
        var marker = Guid.NewGuid();
        await _bus.Publish(new InvokeTool(marker, MarkerStep, new AgentPrincipal("stand-ins", "marker", []), "marker", "{}", marker.ToString(), false, null));
        await WaitForInvocationAsync(marker, MarkerStep, TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        // Bounded: a consumer still in flight would otherwise hold the test run until the CI's own limit.
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _bus.StopAsync(stopping.Token);
        await _provider.DisposeAsync();
    }

    internal sealed class StandInState
    {
        public ConcurrentQueue<InvokeTool> Invocations { get; } = new();

        /// <summary>The message id of each call in <see cref="Invocations"/> (a message sent again arrives with the same id).</summary>
        public ConcurrentQueue<(Guid? MessageId, InvokeTool Call)> Deliveries { get; } = new();

        public Func<InvokeTool, bool> Hold { get; set; } = _ => false;
    }

    /// <summary>
    /// Governance double: admits every task with the limits it asked for; like governance, passes a planning request
    /// that came with the admission request on to the planner with the admission attached.
    /// </summary>
    private sealed class AdmissionStandIn : IConsumer<AdmitTask>
    {
        public Task Consume(ConsumeContext<AdmitTask> context)
        {
            var admitted = new TaskAdmitted(context.Message.TaskId, context.Message.RequestedLimits ?? new TaskLimits(), context.Message.RequestedTools);
            return context.Message.ThenPlan is { } plan ? context.Publish(plan with { Admission = admitted }) : context.Publish(admitted);
        }
    }

    /// <summary>Governance double: grants every model call the budget it asks for.</summary>
    private sealed class ModelBudgetStandIn : IConsumer<ReserveModelBudget>
    {
        public Task Consume(ConsumeContext<ReserveModelBudget> context) =>
            ModelBudgetAnswers.AnswerAsync(context, new ModelBudgetReservation(true, context.Message.MaxOutputTokens, null, false));
    }

    /// <summary>
    /// Governance double: every tenant has admin 'admin' and approver 'approver'; 'agent-user' and 'admin' may call every
    /// tool, any other role none.
    /// </summary>
    private sealed class TenantAccessStandIn : IConsumer<GetTenantAccess>
    {
        private static readonly RoleGrant Everything = new(["*"], ["*"]);

        public Task Consume(ConsumeContext<GetTenantAccess> context) =>
            context.RespondAsync(new TenantAccess(
                context.Message.TenantId, 0, "admin", ["approver", "admin"],
                new Dictionary<string, RoleGrant> { ["agent-user"] = Everything, ["admin"] = Everything }));
    }

    /// <summary>Memory double: nothing to recall.</summary>
    private sealed class MemoryStandIn : IConsumer<RecallMemories>
    {
        public Task Consume(ConsumeContext<RecallMemories> context) => context.Publish(new MemoriesRecalled(context.Message.TaskId, []));
    }

    /// <summary>
    /// Planner double: explicit steps with known tools become plan version 1, a known template a one-step plan; an
    /// unknown template or tool is refused (as the planner would with its templates and catalog; the real planner's
    /// answers are tested in the planner's tests).
    /// </summary>
    private sealed class PlannerStandIn : IConsumer<CreatePlan>
    {
        public Task Consume(ConsumeContext<CreatePlan> context)
        {
            var message = context.Message;
            var errors = (message.Steps ?? [])
                .Where(s => s.Kind == StepKind.Tool && !KnownTools.Contains(s.Tool))
                .Select(s => $"step '{s.Id}': unknown tool '{s.Tool}'")
                .ToList();
            if (message.Steps is null && message.TemplateName is { } template && !KnownTemplates.Contains(template))
            {
                errors.Add($"unknown template '{template}'");
            }

            if (errors.Count > 0)
            {
                return context.Publish(new PlanRejected(message.TaskId, string.Join("; ", errors), errors, message.Admission));
            }

            IReadOnlyList<PlanStep>? steps = message.Steps is { Count: > 0 } given ? given
                : message.TemplateName is not null ? [new PlanStep("lookup", StepKind.Tool, "crm.lookup-customer", """{"customerId":"C-1"}""", null, [])]
                : null;
            return steps is null
                ? context.Publish(new PlanRejected(message.TaskId, "The planner stand-in only plans explicit steps and templates."))
                : context.Publish(new PlanCreated(message.TaskId, new Plan(Guid.NewGuid(), 1, message.TemplateName is null ? "steps" : "template", steps), message.Admission));
        }
    }

    /// <summary>Tool-gateway double: records every call and answers it unless it is held.</summary>
    private sealed class ToolGatewayStandIn(StandInState state) : IConsumer<InvokeTool>
    {
        public Task Consume(ConsumeContext<InvokeTool> context)
        {
            var call = context.Message;
            state.Invocations.Enqueue(call);
            state.Deliveries.Enqueue((context.MessageId, call));
            return state.Hold(call) || call.StepId == MarkerStep
                ? Task.CompletedTask
                : context.Publish(new ToolCallCompleted(call.TaskId, call.StepId, call.Tool, ToolCallOutcome.Succeeded, $$"""{"step":"{{call.StepId}}"}""", null, false, 1, 2, call.ApprovalId, call.Compensate));
        }
    }
}
