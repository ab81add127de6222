using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Audit;
using Agents.Messaging.Data;
using Agents.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ToolExecutionAuditTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    private GovernanceHost Host => shared.Host;

    [Fact]
    public async Task Each_tool_execution_is_audited_once_in_the_admitting_tenants_chain()
    {
        var tenant = TestInfrastructure.UniqueName("exec");
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        var task = Guid.NewGuid();
        Assert.IsType<TaskAdmitted>(await Host.AdmitAsync(new AdmitTask(task, user, "goal", null, null)));

        var succeeded = new ToolCallCompleted(task, "lookup", "crm.lookup-customer", ToolCallOutcome.Succeeded, """{"name":"Acme"}""", null, true, 2, 41.5);
        var succeededId = Guid.NewGuid();
        await PublishAsync(succeeded, succeededId);

        // Redelivered once the first delivery was consumed (the consumer takes messages in batches, and a batch holds a
        // message id once): audited once.
        await Poll.UntilAsync(() => Host.QueryAsync(db => db.Set<InboxState>().AnyAsync(i => i.MessageId == succeededId && i.Consumed != null)));
        await PublishAsync(succeeded, succeededId);
        var failed = new ToolCallCompleted(task, "open-ticket", "tickets.create", ToolCallOutcome.TimedOut, null, "Tool 'tickets.create' did not answer within 2 s.", true, 1, 2003.1);
        await PublishAsync(failed, Guid.NewGuid());
        var gated = new ToolCallCompleted(task, "refund", "payments.refund", ToolCallOutcome.ApprovalRequired, null, "needs approval", false, 0, 3.2);
        await PublishAsync(gated, Guid.NewGuid());

        await Poll.UntilAsync(() => Host.QueryAsync(db => db.Audit.CountAsync(e => e.TenantId == tenant && e.Action.StartsWith("tool.")).ContinueWith(t => t.Result >= 3)));
        await Poll.UntilAsync(() => Host.QueryAsync(db => db.Set<InboxState>().AnyAsync(i => i.MessageId == succeededId && i.ReceiveCount >= 2)));

        var entries = await Host.QueryAsync(db => db.Audit.AsNoTracking().Where(e => e.TenantId == tenant && e.Action.StartsWith("tool.")).OrderBy(e => e.Sequence).ToListAsync());
        Assert.Equal(3, entries.Count);

        // Named by what happened: only the call the tool answered is "executed".
        var first = Assert.Single(entries, e => e.Action == "tool.executed");
        Assert.Equal(task, first.TaskId);
        Assert.Equal("u1", first.Actor);
        Assert.Equal("tool/crm.lookup-customer", first.Subject);
        Assert.Equal("Succeeded", first.Decision);
        using (var details = JsonDocument.Parse(first.Details))
        {
            var root = details.RootElement;
            Assert.Equal("lookup", root.GetProperty("stepId").GetString());
            Assert.Equal(2, root.GetProperty("attempts").GetInt32());
            Assert.Equal(41.5, root.GetProperty("durationMs").GetDouble());
            Assert.True(root.GetProperty("untrusted").GetBoolean());
            Assert.False(root.TryGetProperty("outputJson", out _)); // untrusted output is not copied into the audit log
        }

        var timedOut = Assert.Single(entries, e => e.Subject == "tool/tickets.create");
        Assert.Equal("tool.timed-out", timedOut.Action);
        Assert.Equal("TimedOut", timedOut.Decision);
        var awaiting = Assert.Single(entries, e => e.Subject == "tool/payments.refund");
        Assert.Equal("tool.awaiting-approval", awaiting.Action);
        Assert.Equal("ApprovalRequired", awaiting.Decision);
        Assert.Equal(failed.Error, timedOut.Reason);

        var verification = await Host.QueryAsync(db => new AuditLog(db, TimeProvider.System).VerifyAsync(tenant, CancellationToken.None));
        Assert.True(verification.Ok, verification.Problem);
    }

    [Fact]
    public async Task Tool_execution_of_an_unknown_task_is_skipped()
    {
        var task = Guid.NewGuid();
        var messageId = Guid.NewGuid();
        await PublishAsync(new ToolCallCompleted(task, "s1", "crm.lookup-customer", ToolCallOutcome.Succeeded, "{}", null, true, 1, 3), messageId);

        await Poll.UntilAsync(() => Host.QueryAsync(db => db.Set<InboxState>().AnyAsync(i => i.MessageId == messageId && i.Consumed != null)));
        Assert.False(await Host.QueryAsync(db => db.Audit.AnyAsync(e => e.TaskId == task)));
    }

    private Task PublishAsync(ToolCallCompleted message, Guid messageId) =>
        Host.Bus.Publish(message, (PublishContext<ToolCallCompleted> context) => context.MessageId = messageId);
}
