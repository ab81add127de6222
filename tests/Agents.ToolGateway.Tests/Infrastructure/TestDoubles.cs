using System.Collections.Concurrent;
using Agents.Contracts;
using Agents.ServiceDefaults.Messaging;
using Agents.Testing;
using MassTransit;

namespace Agents.ToolGateway.Tests.Infrastructure;

/// <summary>
/// Test double of the governance service (built elsewhere): a real consumer of
/// <see cref="AuthorizeToolCall"/> on the real bus that answers each tenant as the test says.
/// Tenants it was told nothing about get no answer at all (a silent governance). Like governance, it keeps each decision
/// by request key (the same key asked again gets it, and nothing is sent on again), and an Allow of a request that
/// carries its call is sent on to the tool (<see cref="ToolCallForwarding"/>, as governance does) instead of answered,
/// unless the test made the tenant's governance an older one (<see cref="AnswerWithoutSendingOn"/>).
/// <see cref="GetTenantAccess"/> is answered for every tenant: admin role 'admin', and 'agent-user' may call every tool,
/// unless the test set the tenant's access with <see cref="SetAccess"/>.
/// </summary>
public sealed class GovernanceServiceDouble(string queuePrefix) : IConsumer<AuthorizeToolCall>, IConsumer<GetTenantAccess>
{
    private readonly ConcurrentDictionary<string, TenantAccess> access = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> silent = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> older = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ToolCallAuthorization> decided = new(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<string, Func<AuthorizeToolCall, ToolCallAuthorization>> policies = new(StringComparer.Ordinal);

    public ConcurrentQueue<AuthorizeToolCall> Requests { get; } = new();

    /// <summary>The request id of each request, by task.</summary>
    public ConcurrentQueue<(Guid TaskId, Guid? RequestId)> RequestIds { get; } = new();

    /// <summary>Every <see cref="ToolCallAuthorization"/> sent back, by task (a call sent on to its tool gets none).</summary>
    public ConcurrentQueue<(Guid TaskId, ToolCallAuthorization Answer)> Answers { get; } = new();

    public void Answer(string tenant, Func<AuthorizeToolCall, ToolCallAuthorization> policy) => policies[tenant] = policy;

    public void Allow(string tenant) => Answer(tenant, _ => new ToolCallAuthorization(AuthorizationDecision.Allow, "allowed by the test policy"));

    /// <summary>Governance from before decision 0024 for <paramref name="tenant"/>: it ignores the call a request carries and answers every decision.</summary>
    public void AnswerWithoutSendingOn(string tenant) => older[tenant] = true;

    public void SetAccess(TenantAccess tenantAccess) => access[tenantAccess.TenantId] = tenantAccess;

    /// <summary>Governance does not answer <see cref="GetTenantAccess"/> for <paramref name="tenant"/> (down, or too slow).</summary>
    public void SilenceAccess(string tenant) => silent[tenant] = true;

    public static TenantAccess DefaultAccess(string tenant) => new(
        tenant, 0, "admin", ["admin"], new Dictionary<string, RoleGrant> { ["agent-user"] = new(["*"], ["*"]) });

    public Task Consume(ConsumeContext<GetTenantAccess> context) => silent.ContainsKey(context.Message.TenantId)
        ? Task.CompletedTask
        : context.RespondAsync(access.GetValueOrDefault(context.Message.TenantId) ?? DefaultAccess(context.Message.TenantId));

    public IReadOnlyList<AuthorizeToolCall> RequestsFor(Guid taskId) => Requests.Where(r => r.TaskId == taskId).ToList();

    public IReadOnlyList<ToolCallAuthorization> AnswersFor(Guid taskId) => Answers.Where(a => a.TaskId == taskId).Select(a => a.Answer).ToList();

    public async Task Consume(ConsumeContext<AuthorizeToolCall> context)
    {
        var request = context.Message;
        Requests.Enqueue(request);
        RequestIds.Enqueue((request.TaskId, context.RequestId));
        if (request.RequestKey is { } seen && decided.TryGetValue(seen, out var stored))
        {
            await RespondAsync(context, stored);
            return;
        }

        if (!policies.TryGetValue(request.Principal.TenantId, out var policy))
        {
            return;
        }

        TimeSpan? timeToLive = null;
        var forward = !older.ContainsKey(request.Principal.TenantId) && ToolCallForwarding.CanSendOn(context, queuePrefix, TimeProvider.System, out timeToLive);
        var answer = policy(request);
        if (forward && answer.Decision == AuthorizationDecision.Allow)
        {
            answer = answer with { Forwarded = true };
        }

        if (request.RequestKey is { } key && !decided.TryAdd(key, answer))
        {
            await RespondAsync(context, decided[key]);
            return;
        }

        if (answer.Forwarded)
        {
            await ToolCallForwarding.SendOnAsync(context, timeToLive);
            return;
        }

        await RespondAsync(context, answer);
    }

    private Task RespondAsync(ConsumeContext<AuthorizeToolCall> context, ToolCallAuthorization answer)
    {
        Answers.Enqueue((context.Message.TaskId, answer));
        return context.RespondAsync(answer);
    }
}

/// <summary>
/// Test double of a tool service (tool services are built elsewhere with the Tool SDK): a real
/// consumer of <see cref="ExecuteTool"/> on the tool's own queue that answers with whatever the test
/// scripts for the n-th call (1-based); a null answer means the tool never answers (a hang).
/// </summary>
public sealed class ToolServiceDouble(Func<ExecuteTool, int, ToolExecutionResult?> behaviour) : IConsumer<ExecuteTool>
{
    private int calls;

    public ConcurrentQueue<ExecuteTool> Received { get; } = new();

    /// <summary>The request id each call came with (the gateway's request to governance when governance sent it on).</summary>
    public ConcurrentQueue<Guid?> RequestIds { get; } = new();

    public int Calls => Volatile.Read(ref calls);

    public Func<ExecuteTool, int, ToolExecutionResult?> Behaviour { get; set; } = behaviour;

    public static ToolExecutionResult Success(ExecuteTool call, string outputJson) => new(call.CallId, true, outputJson, null, false, false);

    public static ToolExecutionResult TransientFailure(ExecuteTool call, string error) => new(call.CallId, false, null, error, true, false);

    /// <summary>Waits (up to 10 s) until the tool has been called at least once.</summary>
    public Task WaitUntilCalledAsync() =>
        Poll.UntilAsync(() => Calls > 0, TimeSpan.FromSeconds(10), "the tool to be called", TimeSpan.FromMilliseconds(50));

    public async Task Consume(ConsumeContext<ExecuteTool> context)
    {
        Received.Enqueue(context.Message);
        RequestIds.Enqueue(context.RequestId);
        var n = Interlocked.Increment(ref calls);
        var result = Behaviour(context.Message, n);
        if (result is not null)
        {
            await context.RespondAsync(result);
        }
    }
}

/// <summary>Collects every <see cref="ToolCallCompleted"/> and <see cref="Fault{T}"/> of announcements the gateway publishes.</summary>
public sealed class BusObserver : IConsumer<ToolCallCompleted>, IConsumer<Fault<ToolAnnounced>>
{
    private readonly ConcurrentQueue<ToolCallCompleted> completed = new();

    public ConcurrentQueue<Fault<ToolAnnounced>> AnnouncementFaults { get; } = new();

    public Task Consume(ConsumeContext<ToolCallCompleted> context)
    {
        completed.Enqueue(context.Message);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<Fault<ToolAnnounced>> context)
    {
        AnnouncementFaults.Enqueue(context.Message);
        return Task.CompletedTask;
    }

    public IReadOnlyList<ToolCallCompleted> For(Guid taskId) => completed.Where(c => c.TaskId == taskId).ToList();

    /// <summary>Waits until <paramref name="count"/> answers for the task arrived (or fails after <paramref name="within"/>).</summary>
    public async Task<IReadOnlyList<ToolCallCompleted>> WaitForAsync(Guid taskId, int count = 1, TimeSpan? within = null)
    {
        IReadOnlyList<ToolCallCompleted> found = [];
        await Poll.UntilAsync(
            () => (found = For(taskId)).Count >= count,
            () => $"{count} ToolCallCompleted for task {taskId} (got {found.Count})",
            within ?? TimeSpan.FromSeconds(20),
            TimeSpan.FromMilliseconds(25));
        return found;
    }
}
