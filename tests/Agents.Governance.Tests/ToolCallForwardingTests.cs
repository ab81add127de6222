using System.Collections.Concurrent;
using Agents.Contracts;
using Agents.Governance.Consumers;
using Agents.Messaging.Data;
using Agents.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Tests;

/// <summary>
/// An authorization that carries its tool call (decision 0024): allowed, the call goes on to the tool's queue as the answer
/// to the request, in the decision's transaction; refused or asked again, it is answered as any other.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class ToolCallForwardingTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    private const string Policy = """
        { "enabled": true, "adminRole": "admin", "approverRoles": ["approver"], "roles": { "reader": { "tools": ["crm.*"], "scopes": ["crm.read"] } } }
        """;

    private GovernanceHost Host => shared.Host;

    [Fact]
    public async Task An_allowed_call_is_sent_on_to_its_tool_with_the_requests_id_and_address_and_no_authorization_is_answered()
    {
        await using var tool = await ToolEndpoint.StartAsync(Host);
        var request = await NewCallAsync(tool.Name, ["reader"]);
        var messageId = Guid.NewGuid();

        var response = await AskAsync(request, messageId);

        // The tool's result answered the request: governance sent the call on instead of answering.
        Assert.True(response.Is(out Response<ToolExecutionResult>? result));
        Assert.Equal(request.ThenExecute!.CallId, result.Message.CallId);
        var received = Assert.Single(tool.Calls);
        Assert.Equal((request.ThenExecute.CallId, request.ThenExecute.IdempotencyKey, request.ArgumentsJson), (received.Call.CallId, received.Call.IdempotencyKey, received.Call.ArgumentsJson));
        Assert.Equal(result.RequestId, received.RequestId);
        Assert.Equal(Host.Bus.Address.AbsolutePath, received.ResponseAddress?.AbsolutePath);
        Assert.NotNull(received.ExpirationTime);

        // One message left the decision's transaction: the call, addressed to the tool's queue, with the request's id.
        var row = Assert.Single(await OutboxRowsOfAsync(messageId));
        Assert.Contains("ExecuteTool", row.MessageType, StringComparison.Ordinal);
        Assert.EndsWith("/" + ToolEndpoints.QueueName(tool.Name, Host.QueuePrefix), row.DestinationAddress!.AbsolutePath, StringComparison.Ordinal);
        Assert.Equal(result.RequestId, row.RequestId);

        // Reserved and audited once, as any allowed call.
        Assert.Equal(1, await Host.QueryAsync(db => db.Tasks.Where(t => t.TaskId == request.TaskId).Select(t => t.ToolCalls).SingleAsync()));
        var audit = await Host.QueryAsync(db => db.Audit.AsNoTracking().Where(e => e.TaskId == request.TaskId).ToListAsync());
        Assert.Equal(("tool.authorize", "Allow"), (Assert.Single(audit).Action, audit[0].Decision));
    }

    [Fact]
    public async Task The_same_request_key_asked_again_gets_the_stored_Allow_marked_forwarded_and_nothing_is_sent_again()
    {
        await using var tool = await ToolEndpoint.StartAsync(Host);
        var request = await NewCallAsync(tool.Name, ["reader"]);
        Assert.True((await AskAsync(request, Guid.NewGuid())).Is(out Response<ToolExecutionResult>? _));

        // The tool-gateway heard nothing in time and asks again, without the call: the decision was made and sent on.
        var plainId = Guid.NewGuid();
        var again = await Host.AuthorizeAsync(request with { ThenExecute = null, ThenExecuteAt = null }, plainId);

        // The whole request once more (a redelivery of it): answered with the stored decision, not sent on again.
        var repeatId = Guid.NewGuid();
        var repeated = await AskAsync(request, repeatId);

        Assert.Equal((AuthorizationDecision.Allow, true), (again.Decision, again.Forwarded));
        Assert.True(repeated.Is(out Response<ToolCallAuthorization>? stored));
        Assert.Equal(again, stored.Message);
        Assert.Contains("ToolCallAuthorization", Assert.Single(await OutboxRowsOfAsync(plainId)).MessageType, StringComparison.Ordinal);
        Assert.Contains("ToolCallAuthorization", Assert.Single(await OutboxRowsOfAsync(repeatId)).MessageType, StringComparison.Ordinal);
        Assert.Single(tool.Calls);
        Assert.Equal(1, await Host.QueryAsync(db => db.Tasks.Where(t => t.TaskId == request.TaskId).Select(t => t.ToolCalls).SingleAsync()));
        Assert.Equal(1, await Host.QueryAsync(db => db.Audit.CountAsync(e => e.TaskId == request.TaskId && e.Action == "tool.authorize")));
    }

    [Fact]
    public async Task A_denied_call_is_answered_and_sent_nowhere()
    {
        await using var tool = await ToolEndpoint.StartAsync(Host);
        var request = await NewCallAsync(tool.Name, ["visitor"]);
        var messageId = Guid.NewGuid();

        var response = await AskAsync(request, messageId);

        Assert.True(response.Is(out Response<ToolCallAuthorization>? denied));
        Assert.Equal((AuthorizationDecision.Deny, false), (denied.Message.Decision, denied.Message.Forwarded));
        Assert.Contains("allows tool", denied.Message.Reason, StringComparison.Ordinal);

        // The answer is the one message of the decision's transaction: nothing went to the tool.
        Assert.Contains("ToolCallAuthorization", Assert.Single(await OutboxRowsOfAsync(messageId)).MessageType, StringComparison.Ordinal);
        Assert.Empty(tool.Calls);
    }

    [Fact]
    public async Task A_request_carrying_a_call_other_than_the_one_it_authorizes_fails_and_reserves_nothing()
    {
        await using var tool = await ToolEndpoint.StartAsync(Host);
        var request = await NewCallAsync(tool.Name, ["reader"]);

        // Governance vouches only for what it decides: other arguments, or another queue than the tool's, are refused.
        var otherArguments = request with { ThenExecute = request.ThenExecute! with { ArgumentsJson = """{"id":"someone else"}""" } };
        var otherQueue = request with { RequestKey = request.RequestKey + "-b", ThenExecuteAt = new Uri("queue:" + Host.QueuePrefix + "-somewhere-else") };

        var first = await Assert.ThrowsAsync<RequestFaultException>(() => AskAsync(otherArguments, Guid.NewGuid()));
        var second = await Assert.ThrowsAsync<RequestFaultException>(() => AskAsync(otherQueue, Guid.NewGuid()));

        Assert.Contains("the call's arguments are not the arguments authorized", first.Message, StringComparison.Ordinal);
        Assert.Contains("not to the tool's queue", second.Message, StringComparison.Ordinal);
        Assert.False(await Host.QueryAsync(db => db.Tasks.AnyAsync(t => t.TaskId == request.TaskId)));
        Assert.Empty(tool.Calls);
    }

    /// <summary>A call of <paramref name="tool"/> by a user of a new tenant with <paramref name="roles"/>, carrying the call to send on.</summary>
    private async Task<AuthorizeToolCall> NewCallAsync(string tool, string[] roles)
    {
        var tenant = TestInfrastructure.UniqueName("fwd");
        await Host.PutPolicyAsync(tenant, Policy);
        var user = new AgentPrincipal(tenant, "u1", roles);
        var call = GovernanceHost.Call(user, Guid.NewGuid(), tool, """{"id":"C-1"}""", scope: "crm.read") with { RequestKey = $"{Guid.NewGuid():N}:1" };
        var execute = new ExecuteTool(Guid.NewGuid(), call.TaskId, call.StepId, user, tool, call.ArgumentsJson, "key-" + Guid.NewGuid().ToString("N"));
        return call with { ThenExecute = execute, ThenExecuteAt = ToolEndpoints.QueueAddress(tool, Host.QueuePrefix) };
    }

    /// <summary>Asks as the tool-gateway does: the answer is governance's decision or the tool's result.</summary>
    private async Task<Response<ToolCallAuthorization, ToolExecutionResult>> AskAsync(AuthorizeToolCall request, Guid messageId)
    {
        var client = Host.Bus.CreateRequestClient<AuthorizeToolCall>(Host.QueueOf<AuthorizeToolCallConsumer>(), RequestTimeout.After(s: 30));
        return await client.GetResponse<ToolCallAuthorization, ToolExecutionResult>(request, r => r.UseExecute(context => context.MessageId = messageId));
    }

    private Task<List<OutboxMessage>> OutboxRowsOfAsync(Guid messageId) =>
        Host.QueryAsync(db => db.Set<OutboxMessage>().AsNoTracking().Where(m => m.InboxMessageId == messageId).ToListAsync());

    /// <summary>A tool's queue on governance's bus that records each call with its request headers and answers it.</summary>
    private sealed class ToolEndpoint : IAsyncDisposable
    {
        private readonly HostReceiveEndpointHandle handle;

        private ToolEndpoint(string name, HostReceiveEndpointHandle handle, ConcurrentQueue<Received> calls)
        {
            Name = name;
            this.handle = handle;
            Calls = calls;
        }

        public string Name { get; }

        public ConcurrentQueue<Received> Calls { get; }

        public static async Task<ToolEndpoint> StartAsync(GovernanceHost host)
        {
            var name = "crm." + TestInfrastructure.UniqueName("fwd");
            var calls = new ConcurrentQueue<Received>();
            var handle = host.Bus.ConnectReceiveEndpoint(ToolEndpoints.QueueName(name, host.QueuePrefix), e =>
            {
                e.ConfigureConsumeTopology = false;
                e.Handler<ExecuteTool>(async context =>
                {
                    calls.Enqueue(new Received(context.Message, context.RequestId, context.ResponseAddress, context.ExpirationTime));
                    await context.RespondAsync(new ToolExecutionResult(context.Message.CallId, true, """{"ok":true}""", null, false, false));
                });
            });
            await handle.Ready.WaitAsync(TimeSpan.FromSeconds(10));
            return new ToolEndpoint(name, handle, calls);
        }

        public async ValueTask DisposeAsync() => await handle.StopAsync();
    }

    private sealed record Received(ExecuteTool Call, Guid? RequestId, Uri? ResponseAddress, DateTime? ExpirationTime);
}
