using Agents.Contracts;
using Agents.Governance.Consumers;
using Agents.Governance.Decisions;
using Agents.Messaging.Data;
using Agents.ServiceDefaults.Messaging;
using MassTransit;
using System.Net.Http.Json;
using Agents.Testing;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Tests;

[Trait("Category", "Infrastructure")]
public sealed class AuthorizationTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    private const string MatrixPolicy = """
        {
          "enabled": true, "adminRole": "admin", "approverRoles": ["approver"],
          "roles": {
            "reader": { "tools": ["crm.*"], "scopes": ["crm.read"] },
            "writer": { "tools": ["tickets.create"], "scopes": ["tickets.write"] },
            "noscope": { "tools": ["tickets.create"] }
          },
          "approvalRules": [ { "tool": "payments.refund", "argument": "/amount", "greaterThan": 100 } ],
          "loopDetection": { "maxIdenticalCalls": 3 }
        }
        """;

    private GovernanceHost Host => shared.Host;

    public static TheoryData<string[], string[]?, string, string, AuthorizationDecision> Matrix => new()
    {
        // roles, task-allowed tools, tool, required scope → decision
        { ["reader"], null, "crm.lookup-customer", "crm.read", AuthorizationDecision.Allow },
        { ["reader"], ["crm.lookup-customer"], "crm.lookup-customer", "crm.read", AuthorizationDecision.Allow },
        { ["reader"], ["web.fetch"], "crm.lookup-customer", "crm.read", AuthorizationDecision.Deny },
        { ["reader"], null, "crm.lookup-customer", "crm.write", AuthorizationDecision.Deny },
        { ["reader"], null, "tickets.create", "tickets.write", AuthorizationDecision.Deny },
        { ["writer"], null, "tickets.create", "tickets.write", AuthorizationDecision.Allow },
        { ["writer"], ["crm.lookup-customer"], "tickets.create", "tickets.write", AuthorizationDecision.Deny },
        { ["writer"], null, "crm.lookup-customer", "crm.read", AuthorizationDecision.Deny },
        { ["noscope"], null, "tickets.create", "tickets.write", AuthorizationDecision.Deny },
        { ["noscope"], null, "tickets.create", "", AuthorizationDecision.Allow },
        { ["noscope", "writer"], null, "tickets.create", "tickets.write", AuthorizationDecision.Allow },
        { [], null, "crm.lookup-customer", "", AuthorizationDecision.Deny },
        { ["unknown-role"], null, "crm.lookup-customer", "crm.read", AuthorizationDecision.Deny },
        { ["reader", "writer"], ["tickets.create"], "tickets.create", "tickets.write", AuthorizationDecision.Allow },
        { ["reader", "writer"], [], "crm.lookup-customer", "crm.read", AuthorizationDecision.Deny },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Least_privilege_matrix(string[] roles, string[]? taskAllowed, string tool, string scope, AuthorizationDecision expected)
    {
        var tenant = TestInfrastructure.UniqueName("lp");
        await Host.PutPolicyAsync(tenant, MatrixPolicy);
        var user = new AgentPrincipal(tenant, "u1", roles);

        var result = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), tool, scope: scope, taskAllowed: taskAllowed));

        Assert.True(expected == result.Decision, $"Expected {expected}, got {result.Decision}: {result.Reason}");
    }

    [Fact]
    public async Task Unknown_tenant_gets_the_default_policy_which_denies_every_tool()
    {
        var user = new AgentPrincipal(TestInfrastructure.UniqueName("none"), "u1", ["agent-user", "admin"]);

        var result = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer"));

        Assert.Equal(AuthorizationDecision.Deny, result.Decision);
        Assert.Contains("allows tool", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Argument_threshold_rule_requires_approval_only_above_the_threshold()
    {
        var tenant = TestInfrastructure.UniqueName("thr");
        await Host.PutPolicyAsync(tenant, MatrixPolicy.Replace("\"crm.*\"", "\"crm.*\", \"payments.refund\"", StringComparison.Ordinal));
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);
        var task = Guid.NewGuid();

        var small = await Host.AuthorizeAsync(GovernanceHost.Call(user, task, "payments.refund", """{"amount":100}""", SideEffectClass.Mutating));
        var large = await Host.AuthorizeAsync(GovernanceHost.Call(user, task, "payments.refund", """{"amount":100.5}""", SideEffectClass.Mutating));
        var asText = await Host.AuthorizeAsync(GovernanceHost.Call(user, task, "payments.refund", """{"amount":"250"}""", SideEffectClass.Mutating));

        Assert.Equal(AuthorizationDecision.Allow, small.Decision);
        Assert.Equal(AuthorizationDecision.RequireApproval, large.Decision);
        Assert.NotNull(large.ApprovalId);
        Assert.Equal(AuthorizationDecision.RequireApproval, asText.Decision);
    }

    [Fact]
    public async Task Loop_detector_denies_the_same_call_from_more_steps_than_the_policy_limit()
    {
        var tenant = TestInfrastructure.UniqueName("loop");
        await Host.PutPolicyAsync(tenant, MatrixPolicy);
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);
        var task = Guid.NewGuid();

        var decisions = new List<ToolCallAuthorization>();
        for (var i = 0; i < 4; i++)
        {
            decisions.Add(await Host.AuthorizeAsync(GovernanceHost.Call(user, task, "crm.lookup-customer", """{"id":7}""", scope: "crm.read", stepId: $"s{i}")));
        }

        var other = await Host.AuthorizeAsync(GovernanceHost.Call(user, task, "crm.lookup-customer", """{"id":8}""", scope: "crm.read", stepId: "s9"));

        Assert.All(decisions.Take(3), d => Assert.Equal(AuthorizationDecision.Allow, d.Decision));
        Assert.Equal(AuthorizationDecision.Deny, decisions[3].Decision);
        Assert.StartsWith(AuthorizationService.LoopDetected, decisions[3].Reason, StringComparison.Ordinal);
        Assert.Equal(AuthorizationDecision.Allow, other.Decision);
    }

    [Fact]
    public async Task Retries_of_one_step_are_not_a_loop()
    {
        var tenant = TestInfrastructure.UniqueName("retry");
        await Host.PutPolicyAsync(tenant, MatrixPolicy);
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);
        var call = GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", """{"id":7}""", scope: "crm.read", stepId: "lookup");

        var decisions = new List<ToolCallAuthorization>();
        for (var i = 0; i < 6; i++)
        {
            decisions.Add(await Host.AuthorizeAsync(call));
        }

        Assert.All(decisions, d => Assert.Equal(AuthorizationDecision.Allow, d.Decision));
    }

    [Fact]
    public async Task Kill_switches_per_tool_and_per_tenant_take_effect_on_the_next_call()
    {
        var tenant = TestInfrastructure.UniqueName("kill");
        await Host.PutPolicyAsync(tenant, MatrixPolicy);
        var user = new AgentPrincipal(tenant, "u1", ["reader", "writer"]);
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "boss", ["admin"]));
        using var nonAdmin = Host.ClientFor(user);

        using var refused = await nonAdmin.PostAsJsonAsync(new Uri("/api/governance/kill-switch", UriKind.Relative), new { tool = "crm.lookup-customer", enabled = true });
        await refused.BodyAsync(System.Net.HttpStatusCode.Forbidden);

        using var toolOff = await admin.PostAsJsonAsync(new Uri("/api/governance/kill-switch", UriKind.Relative), new { tool = "crm.lookup-customer", enabled = true, reason = "incident" });
        await toolOff.BodyAsync(System.Net.HttpStatusCode.OK);
        var killedTool = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", scope: "crm.read"));
        var otherTool = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "tickets.create", scope: "tickets.write"));

        using var tenantOff = await admin.PostAsJsonAsync(new Uri("/api/governance/kill-switch", UriKind.Relative), new { enabled = true });
        await tenantOff.BodyAsync(System.Net.HttpStatusCode.OK);
        var killedTenant = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "tickets.create", scope: "tickets.write"));
        var admission = await Host.AdmitAsync(new AdmitTask(Guid.NewGuid(), user, "goal", null, null));

        using var tenantOn = await admin.PostAsJsonAsync(new Uri("/api/governance/kill-switch", UriKind.Relative), new { enabled = false });
        await tenantOn.BodyAsync(System.Net.HttpStatusCode.OK);
        var restored = await Host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "tickets.create", scope: "tickets.write"));

        Assert.Equal(AuthorizationDecision.Deny, killedTool.Decision);
        Assert.Contains("kill switch", killedTool.Reason, StringComparison.Ordinal);
        Assert.Equal(AuthorizationDecision.Allow, otherTool.Decision);
        Assert.Equal(AuthorizationDecision.Deny, killedTenant.Decision);
        Assert.Contains("kill switch", Assert.IsType<TaskRejected>(admission).Reason, StringComparison.Ordinal);
        Assert.Equal(AuthorizationDecision.Allow, restored.Decision);
    }

    [Fact]
    public async Task Admission_intersects_limits_and_tools_and_rejects_disabled_tenants_and_spent_budgets()
    {
        var tenant = TestInfrastructure.UniqueName("adm");
        await Host.PutPolicyAsync(tenant, MatrixPolicy.Replace("\"loopDetection\"", "\"budgets\": {\"perTask\": {\"tokens\": 1000, \"toolCalls\": 5}, \"perUserPerDay\": {\"tokens\": 300}}, \"loopDetection\"", StringComparison.Ordinal));
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);

        var admitted = Assert.IsType<TaskAdmitted>(await Host.AdmitAsync(new AdmitTask(Guid.NewGuid(), user, "goal", new TaskLimits(MaxTokens: 5000, MaxToolCalls: 2, MaxCost: 0.5m), ["crm.lookup-customer", "tickets.create"])));
        Assert.Equal(1000, admitted.Limits.MaxTokens);
        Assert.Equal(2, admitted.Limits.MaxToolCalls);
        Assert.Equal(0.5m, admitted.Limits.MaxCost);
        // The loop limit is the policy's (3), given with the admission so that the executor stops where governance would deny.
        Assert.Equal(3, admitted.Limits.MaxIdenticalCalls);
        Assert.Equal(["crm.lookup-customer"], admitted.AllowedTools);
        Assert.Equal(["crm.*"], admitted.CallableTools);
        var noRole = Assert.IsType<TaskAdmitted>(await Host.AdmitAsync(new AdmitTask(Guid.NewGuid(), new AgentPrincipal(tenant, "u3", ["visitor"]), "goal", new TaskLimits(MaxIdenticalCalls: 2), null)));
        Assert.Empty(noRole.CallableTools!);
        Assert.Equal(2, noRole.Limits.MaxIdenticalCalls);

        // Usage is recorded once per message id, even when the message is delivered twice.
        var usageId = Guid.NewGuid();
        var usage = new RecordUsage(admitted.TaskId, user, 100, 100, 0.01m, 0);
        // The next report, sent after both, is recorded after them (WaitUntilUsageRecordedAsync): a second count of the
        // first would show in the total then.
        await Host.SendAsync<RecordUsage, RecordUsageConsumer>(usage, usageId);
        await Host.SendAsync<RecordUsage, RecordUsageConsumer>(usage, usageId);
        var next = Guid.NewGuid();
        await Host.SendAsync<RecordUsage, RecordUsageConsumer>(new RecordUsage(admitted.TaskId, user, 100, 0, 0, 0), next);
        await Host.WaitUntilUsageRecordedAsync(next);
        Assert.Equal(300, await Host.QueryAsync(db => db.Tasks.Where(t => t.TaskId == admitted.TaskId).Select(t => t.Tokens).SingleAsync()));
        Assert.Equal(300, await Host.QueryAsync(db => db.DailyUsage.Where(d => d.TenantId == tenant && d.UserId == "u1").Select(d => d.Tokens).SingleAsync()));
        var spent = Assert.IsType<TaskRejected>(await Host.AdmitAsync(new AdmitTask(Guid.NewGuid(), user, "goal", null, null)));
        Assert.Contains("daily budget exhausted", spent.Reason, StringComparison.Ordinal);

        await Host.PutPolicyAsync(tenant, MatrixPolicy.Replace("\"enabled\": true", "\"enabled\": false", StringComparison.Ordinal));
        var disabled = Assert.IsType<TaskRejected>(await Host.AdmitAsync(new AdmitTask(Guid.NewGuid(), new AgentPrincipal(tenant, "u2", ["reader"]), "goal", null, null)));
        Assert.Contains("disabled", disabled.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_admitted_task_with_its_planning_request_goes_on_to_the_planner_with_the_admission_and_a_rejected_one_is_answered()
    {
        var tenant = TestInfrastructure.UniqueName("adm-fwd");
        var policy = MatrixPolicy.Replace("\"loopDetection\"", "\"budgets\": {\"perTask\": {\"tokens\": 1000}}, \"loopDetection\"", StringComparison.Ordinal);
        await Host.PutPolicyAsync(tenant, policy);
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);
        var forwarded = new System.Collections.Concurrent.ConcurrentQueue<CreatePlan>();
        var answered = new System.Collections.Concurrent.ConcurrentQueue<Guid>();
        var admittedId = Guid.NewGuid();
        var rejectedId = Guid.NewGuid();
        var laterId = Guid.NewGuid();
        var observer = Host.Bus.ConnectReceiveEndpoint(e =>
        {
            // One message at a time, in the queue's order: what arrived before the last admission's request was seen first.
            e.ConcurrentMessageLimit = 1;
            e.Handler<CreatePlan>(context =>
            {
                if (context.Message.TaskId == admittedId || context.Message.TaskId == rejectedId || context.Message.TaskId == laterId)
                {
                    forwarded.Enqueue(context.Message);
                }

                return Task.CompletedTask;
            });
            e.Handler<TaskAdmitted>(context =>
            {
                if (context.Message.TaskId == admittedId || context.Message.TaskId == rejectedId)
                {
                    answered.Enqueue(context.Message.TaskId);
                }

                return Task.CompletedTask;
            });
        });
        await observer.Ready.WaitAsync(TimeSpan.FromSeconds(10));
        try
        {
            var plan = new CreatePlan(admittedId, user, null, "lookup-and-summarize", new Dictionary<string, string> { ["customerId"] = "C-1001" }, null, null, null);
            await Host.SendAsync<AdmitTask, AdmitTaskConsumer>(new AdmitTask(admittedId, user, null, new TaskLimits(MaxTokens: 5000), null, plan));

            await Poll.UntilAsync(() => Task.FromResult(!forwarded.IsEmpty));
            var passedOn = Assert.Single(forwarded);
            Assert.Equal(admittedId, passedOn.TaskId);
            Assert.Equal("lookup-and-summarize", passedOn.TemplateName);
            Assert.Equal("C-1001", passedOn.Parameters!["customerId"]);
            Assert.NotNull(passedOn.Admission);
            Assert.Equal(1000, passedOn.Admission.Limits.MaxTokens);

            // The planner is told which tools the caller's roles allow ('reader': crm.*), to refuse a plan beyond them.
            Assert.Equal(["crm.*"], passedOn.Admission.CallableTools);
            Assert.True(passedOn.Admission.MayCall("crm.lookup-customer"));
            Assert.False(passedOn.Admission.MayCall("web.fetch"));
            Assert.True(await Host.QueryAsync(db => db.Tasks.AnyAsync(t => t.TaskId == admittedId && t.Admitted)));

            // A refused task is answered; its planning request goes nowhere.
            await Host.PutPolicyAsync(tenant, MatrixPolicy.Replace("\"enabled\": true", "\"enabled\": false", StringComparison.Ordinal));
            var rejected = Assert.IsType<TaskRejected>(await Host.AdmitAsync(new AdmitTask(rejectedId, user, null, null, null, plan with { TaskId = rejectedId })));
            Assert.Contains("disabled", rejected.Reason, StringComparison.Ordinal);

            // Had the refusal passed the request on, it would be on the broker before a later admission's: once everything
            // governance committed is sent, the tenant is enabled again and a later task is admitted; its request arrives last.
            await Host.WaitUntilOutboxSentAsync();
            await Host.PutPolicyAsync(tenant, policy);
            await Host.SendAsync<AdmitTask, AdmitTaskConsumer>(new AdmitTask(laterId, user, null, new TaskLimits(MaxTokens: 5000), null, plan with { TaskId = laterId }));
            await Poll.UntilAsync(() => forwarded.Any(p => p.TaskId == laterId), what: "the later admission's planning request");
            Assert.Equal([admittedId, laterId], forwarded.Select(p => p.TaskId));
            Assert.Empty(answered);
        }
        finally
        {
            await observer.StopAsync();
        }
    }

    [Fact]
    public async Task A_redelivered_authorization_request_is_answered_once_and_reserves_once()
    {
        var tenant = TestInfrastructure.UniqueName("redo");
        await Host.PutPolicyAsync(tenant, MatrixPolicy);
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);
        var task = Guid.NewGuid();
        var call = GovernanceHost.Call(user, task, "crm.lookup-customer", scope: "crm.read");
        var messageId = Guid.NewGuid();

        var first = await Host.AuthorizeAsync(call, messageId);
        Assert.Equal(AuthorizationDecision.Allow, first.Decision);

        // The same message again (a broker redelivery): the inbox skips it; the answer already left through the outbox.
        await Host.SendAsync<AuthorizeToolCall, AuthorizeToolCallConsumer>(call, messageId);
        await Poll.UntilAsync(() => Host.QueryAsync(db => db.Set<InboxState>().AnyAsync(i => i.MessageId == messageId && i.ReceiveCount >= 2)));

        Assert.Equal(1, await Host.QueryAsync(db => db.Tasks.Where(t => t.TaskId == task).Select(t => t.ToolCalls).SingleAsync()));
        Assert.Equal(1, await Host.QueryAsync(db => db.Set<OutboxMessage>().CountAsync(m => m.InboxMessageId == messageId)));
        Assert.Equal(1, await Host.QueryAsync(db => db.Audit.CountAsync(e => e.TenantId == tenant && e.Action == "tool.authorize")));
    }

    [Fact]
    public async Task An_authorization_asked_again_with_the_same_request_key_gets_the_same_decision_and_reserves_once()
    {
        var tenant = TestInfrastructure.UniqueName("rekey");
        await Host.PutPolicyAsync(tenant, MatrixPolicy);
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);
        var task = Guid.NewGuid();
        var call = GovernanceHost.Call(user, task, "crm.lookup-customer", scope: "crm.read") with { RequestKey = $"{Guid.NewGuid():N}:1" };

        // The tool-gateway asks again (a new message) after its first request went unanswered for a while.
        var first = await Host.AuthorizeAsync(call, Guid.NewGuid());
        var again = await Host.AuthorizeAsync(call, Guid.NewGuid());
        var nextAttempt = await Host.AuthorizeAsync(call with { RequestKey = call.RequestKey![..^1] + "2" }, Guid.NewGuid());

        Assert.Equal(AuthorizationDecision.Allow, first.Decision);
        Assert.Equal(first, again);
        Assert.Equal(AuthorizationDecision.Allow, nextAttempt.Decision);
        Assert.Equal(2, await Host.QueryAsync(db => db.Tasks.Where(t => t.TaskId == task).Select(t => t.ToolCalls).SingleAsync()));
        Assert.Equal(2, await Host.QueryAsync(db => db.Audit.CountAsync(e => e.TenantId == tenant && e.Action == "tool.authorize")));
    }

    [Fact]
    public async Task Responses_go_through_the_outbox_and_reach_a_request_client_on_another_bus()
    {
        var tenant = TestInfrastructure.UniqueName("rr");
        await Host.PutPolicyAsync(tenant, MatrixPolicy);
        var user = new AgentPrincipal(tenant, "u1", ["reader"]);

        // A bus of its own, as the tool-gateway's (another process): the response must reach its response queue.
        var requester = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            var broker = Agents.ServiceDefaults.Configuration.ConnectionStrings.ParseRabbitMq(TestInfrastructure.RabbitMq);
            cfg.Host(broker.Host, broker.Port, broker.VirtualHost, h =>
            {
                h.Username(broker.Username);
                h.Password(broker.Password);
            });
            BusConventions.Apply(cfg, new BusOptions { QueuePrefix = Host.QueuePrefix });
        });
        await requester.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        try
        {
            var client = requester.CreateRequestClient<AuthorizeToolCall>(Host.QueueOf<AuthorizeToolCallConsumer>(), RequestTimeout.After(s: 30));
            var messageId = Guid.NewGuid();
            var allowed = await client.GetResponse<ToolCallAuthorization>(
                GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", scope: "crm.read"),
                r => r.UseExecute(context => context.MessageId = messageId));
            Assert.Equal(AuthorizationDecision.Allow, allowed.Message.Decision);

            var admission = requester.CreateRequestClient<AdmitTask>(Host.QueueOf<AdmitTaskConsumer>(), RequestTimeout.After(s: 30));
            var admitted = await admission.GetResponse<TaskAdmitted, TaskRejected>(new AdmitTask(Guid.NewGuid(), user, "goal", null, null));
            Assert.True(admitted.Is(out Response<TaskAdmitted>? _));

            // It was an outbox row addressed to the requester's response queue, delivered after the commit (sent rows
            // are marked in batches shortly after they are sent).
            await Poll.UntilAsync(() => Host.QueryAsync(db => db.Set<OutboxMessage>().AnyAsync(m => m.InboxMessageId == messageId && m.Delivered != null)));
            var row = await Host.QueryAsync(db => db.Set<OutboxMessage>().AsNoTracking().SingleAsync(m => m.InboxMessageId == messageId));
            Assert.Equal(requester.Address.AbsolutePath, row.DestinationAddress!.AbsolutePath);
            Assert.NotNull(row.RequestId);
        }
        finally
        {
            await requester.StopAsync();
        }
    }

    [Fact]
    public async Task Task_run_finished_reconciles_totals_once()
    {
        var tenant = TestInfrastructure.UniqueName("fin");
        var user = new AgentPrincipal(tenant, "u1", []);
        var task = Guid.NewGuid();
        Assert.IsType<TaskAdmitted>(await Host.AdmitAsync(new AdmitTask(task, user, "goal", null, null)));
        await Host.SendAsync<RecordUsage, RecordUsageConsumer>(new RecordUsage(task, user, 40, 10, 0.02m, 0), Guid.NewGuid());
        await Poll.UntilAsync(() => Host.QueryAsync(db => db.Tasks.AnyAsync(t => t.TaskId == task && t.Tokens == 50)));

        var finished = new TaskRunFinished(task, user, "goal", TaskRunStatus.Completed, "ok", null, new TaskUsage(3, 0, 100, 20, 0.05m), DateTimeOffset.UtcNow);
        // Two messages of the same end (the executor published it twice): the second changes nothing.
        Guid[] ends = [Guid.NewGuid(), Guid.NewGuid()];
        await Host.SendAsync<TaskRunFinished, TaskRunFinishedConsumer>(finished, ends[0]);
        await Host.SendAsync<TaskRunFinished, TaskRunFinishedConsumer>(finished, ends[1]);
        await Host.WaitUntilConsumedAsync(ends[0]);
        await Host.WaitUntilConsumedAsync(ends[1]);

        var row = await Host.QueryAsync(db => db.Tasks.AsNoTracking().SingleAsync(t => t.TaskId == task));
        var tenantDay = await Host.QueryAsync(db => db.DailyUsage.AsNoTracking().SingleAsync(d => d.TenantId == tenant && d.UserId == ""));
        Assert.Equal(120, row.Tokens);
        Assert.Equal(0.05m, row.Cost);
        Assert.Equal(3, row.Steps);
        Assert.Equal(120, tenantDay.Tokens);
        var afterFinish = await Host.AuthorizeAsync(GovernanceHost.Call(user, task, "crm.lookup-customer"));
        Assert.Equal(AuthorizationDecision.Deny, afterFinish.Decision);
    }
}
