using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Consumers;
using Agents.Governance.Data;
using Agents.Governance.Policies;
using Agents.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Time.Testing;

namespace Agents.Governance.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ApprovalTests
{
    private const string TicketArgs = """{"customerId":"c-1","title":"Refund request"}""";

    [Fact]
    public async Task Approval_lifecycle_survives_a_restart_refuses_the_requester_and_binds_the_exact_arguments()
    {
        await using var host = await GovernanceHost.StartAsync();
        var tenant = TestInfrastructure.UniqueName("appr");
        await host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson);
        var decided = Observe(host);

        // The requester also holds the approver role: still may not approve their own request.
        var requester = new AgentPrincipal(tenant, "requester", ["agent-user", "approver"]);
        var task = Guid.NewGuid();
        var call = GovernanceHost.Call(requester, task, "tickets.create", TicketArgs, SideEffectClass.Mutating, RiskTier.Medium, "tickets.write", tainted: true, stepId: "open-ticket");

        var first = await host.AuthorizeAsync(call);
        Assert.Equal(AuthorizationDecision.RequireApproval, first.Decision);
        var approvalId = first.ApprovalId!.Value;
        var again = await host.AuthorizeAsync(call);
        Assert.Equal(approvalId, again.ApprovalId);

        // Restart while the approval is pending: everything is in PostgreSQL.
        await host.RestartAsync();
        decided = Observe(host);

        using var approver = host.ClientFor(new AgentPrincipal(tenant, "approver-1", ["approver"]));
        using var pending = await approver.GetAsync(new Uri("/api/governance/approvals", UriKind.Relative));
        using var list = JsonDocument.Parse(await pending.BodyAsync(HttpStatusCode.OK));
        var listed = Assert.Single(list.RootElement.EnumerateArray());
        Assert.Equal(approvalId, listed.GetProperty("id").GetGuid());
        Assert.Equal("requester", listed.GetProperty("requestedBy").GetString());

        using var plainUser = host.ClientFor(new AgentPrincipal(tenant, "someone", ["agent-user"]));
        using var notApprover = await plainUser.GetAsync(new Uri("/api/governance/approvals", UriKind.Relative));
        await notApprover.BodyAsync(HttpStatusCode.Forbidden);

        using var self = host.ClientFor(requester);
        using var selfApprove = await self.PostAsJsonAsync(new Uri($"/api/governance/approvals/{approvalId}/approve", UriKind.Relative), new { comment = "looks fine to me" });
        Assert.Contains("requested by you", await selfApprove.BodyAsync(HttpStatusCode.Forbidden), StringComparison.Ordinal);

        using var approve = await approver.PostAsJsonAsync(new Uri($"/api/governance/approvals/{approvalId}/approve", UriKind.Relative), new { comment = "checked the customer" });
        await approve.BodyAsync(HttpStatusCode.OK);
        using var twice = await approver.PostAsJsonAsync(new Uri($"/api/governance/approvals/{approvalId}/reject", UriKind.Relative), new { comment = "changed my mind" });
        await twice.BodyAsync(HttpStatusCode.Conflict);

        var message = await decided.WaitAsync(approvalId);
        Assert.True(message.Approved);
        Assert.False(message.Expired);
        Assert.Equal("approver-1", message.DecidedBy);
        Assert.Equal("open-ticket", message.StepId);

        var allowed = await host.AuthorizeAsync(call with { ApprovalId = approvalId });
        Assert.Equal(AuthorizationDecision.Allow, allowed.Decision);

        // Arguments changed after the approval: refused, a new approval is needed.
        const string changed = """{"customerId":"c-1","title":"Refund request","amount":5000}""";
        var tampered = await host.AuthorizeAsync(call with { ArgumentsJson = changed, ArgumentsHash = GovernanceHost.Hash(changed), ApprovalId = approvalId });
        Assert.Equal(AuthorizationDecision.RequireApproval, tampered.Decision);
        Assert.NotEqual(approvalId, tampered.ApprovalId);
        Assert.Contains("arguments changed", tampered.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_task_that_ends_withdraws_its_pending_approvals_and_a_later_decision_is_a_conflict()
    {
        await using var host = await GovernanceHost.StartAsync();
        var tenant = TestInfrastructure.UniqueName("wdr");
        await host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson);
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        var task = Guid.NewGuid();
        var call = GovernanceHost.Call(user, task, "tickets.create", TicketArgs, SideEffectClass.Mutating, scope: "tickets.write", tainted: true);
        var approvalId = (await host.AuthorizeAsync(call)).ApprovalId!.Value;

        // The task is cancelled while its approval waits.
        await host.SendAsync<TaskRunFinished, TaskRunFinishedConsumer>(
            new TaskRunFinished(task, user, null, TaskRunStatus.Cancelled, "{}", "Cancelled by u1.", TaskUsage.None, DateTimeOffset.UtcNow));
        await Poll.UntilAsync(() => host.QueryAsync(db => db.Approvals.AnyAsync(a => a.Id == approvalId && a.Status == ApprovalStatus.Withdrawn)));

        using var approver = host.ClientFor(new AgentPrincipal(tenant, "a1", ["approver"]));
        using var approve = await approver.PostAsJsonAsync(new Uri($"/api/governance/approvals/{approvalId}/approve", UriKind.Relative), new { comment = "too late" });
        Assert.Equal(HttpStatusCode.Conflict, approve.StatusCode);
        Assert.Contains("Withdrawn", await approve.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1, await host.QueryAsync(db => db.Audit.CountAsync(e => e.TenantId == tenant && e.Action == "approval.withdrawn" && e.TaskId == task)));
    }

    [Fact]
    public async Task Rejected_approval_denies_the_call()
    {
        await using var host = await GovernanceHost.StartAsync();
        var tenant = TestInfrastructure.UniqueName("rej");
        await host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson);
        var decided = Observe(host);
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        var call = GovernanceHost.Call(user, Guid.NewGuid(), "tickets.create", TicketArgs, SideEffectClass.Mutating, scope: "tickets.write", tainted: true);
        var approvalId = (await host.AuthorizeAsync(call)).ApprovalId!.Value;

        using var approver = host.ClientFor(new AgentPrincipal(tenant, "a1", ["approver"]));
        using var reject = await approver.PostAsJsonAsync(new Uri($"/api/governance/approvals/{approvalId}/reject", UriKind.Relative), new { comment = "suspicious title" });
        await reject.BodyAsync(HttpStatusCode.OK);

        Assert.False((await decided.WaitAsync(approvalId)).Approved);
        var denied = await host.AuthorizeAsync(call with { ApprovalId = approvalId });
        Assert.Equal(AuthorizationDecision.Deny, denied.Decision);
        Assert.Contains("suspicious title", denied.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Approval_expires_by_durable_timeout_or_escalates_per_policy()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await GovernanceHost.StartAsync(time);
        var decided = Observe(host);
        var denyTenant = TestInfrastructure.UniqueName("exp");
        var escalateTenant = TestInfrastructure.UniqueName("esc");
        await host.PutPolicyAsync(denyTenant, PolicyDefaults.DemoPolicyJson.Replace("\"timeoutSeconds\": 3600, \"onExpiry\": \"escalate\", \"escalateTo\": \"admin\"", "\"timeoutSeconds\": 60, \"onExpiry\": \"deny\"", StringComparison.Ordinal));
        await host.PutPolicyAsync(escalateTenant, PolicyDefaults.DemoPolicyJson.Replace("3600", "60", StringComparison.Ordinal));
        var denyCall = GovernanceHost.Call(new AgentPrincipal(denyTenant, "u1", ["agent-user"]), Guid.NewGuid(), "tickets.create", TicketArgs, SideEffectClass.Mutating, scope: "tickets.write", tainted: true);
        var escalateCall = GovernanceHost.Call(new AgentPrincipal(escalateTenant, "u1", ["agent-user"]), Guid.NewGuid(), "tickets.create", TicketArgs, SideEffectClass.Mutating, scope: "tickets.write", tainted: true);
        var expiring = (await host.AuthorizeAsync(denyCall)).ApprovalId!.Value;
        var escalating = (await host.AuthorizeAsync(escalateCall)).ApprovalId!.Value;

        time.Advance(TimeSpan.FromSeconds(61));

        var expired = await decided.WaitAsync(expiring);
        Assert.True(expired.Expired);
        Assert.False(expired.Approved);
        var denied = await host.AuthorizeAsync(denyCall with { ApprovalId = expiring });
        Assert.Equal(AuthorizationDecision.Deny, denied.Decision);
        Assert.Contains("expired", denied.Reason, StringComparison.Ordinal);

        await Poll.UntilAsync(() => host.QueryAsync(db => db.Approvals.AnyAsync(a => a.Id == escalating && a.Escalated)));
        var escalated = await host.QueryAsync(db => db.Approvals.AsNoTracking().SingleAsync(a => a.Id == escalating));
        Assert.Equal(ApprovalStatus.Pending, escalated.Status);
        Assert.Equal(["admin"], escalated.ApproverRoles);
        using var formerApprover = host.ClientFor(new AgentPrincipal(escalateTenant, "a1", ["approver"]));
        using var refused = await formerApprover.PostAsJsonAsync(new Uri($"/api/governance/approvals/{escalating}/approve", UriKind.Relative), new { comment = "late" });
        await refused.BodyAsync(HttpStatusCode.Forbidden);

        // After escalation, a second timeout expires it for good.
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.True((await decided.WaitAsync(escalating)).Expired);
    }

    private static DecisionObserver Observe(GovernanceHost host) => new(host.Bus);

    private sealed class DecisionObserver
    {
        private readonly ConcurrentDictionary<Guid, TaskCompletionSource<ApprovalDecided>> waiting = new();

        public DecisionObserver(IBus bus)
        {
            var handle = bus.ConnectReceiveEndpoint(e => e.Handler<ApprovalDecided>(context =>
            {
                Get(context.Message.ApprovalId).TrySetResult(context.Message);
                return Task.CompletedTask;
            }));
            handle.Ready.Wait(TimeSpan.FromSeconds(10));
        }

        public async Task<ApprovalDecided> WaitAsync(Guid approvalId) => await Get(approvalId).Task.WaitAsync(TimeSpan.FromSeconds(20));

        private TaskCompletionSource<ApprovalDecided> Get(Guid id) => waiting.GetOrAdd(id, _ => new TaskCompletionSource<ApprovalDecided>(TaskCreationOptions.RunContinuationsAsynchronously));
    }
}
