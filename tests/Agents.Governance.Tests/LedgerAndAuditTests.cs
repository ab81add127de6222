using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Policies;
using Agents.Testing;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Agents.Governance.Tests;

[Trait("Category", "Infrastructure")]
public sealed class LedgerAndAuditTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    private GovernanceHost Host => shared.Host;

    [Fact]
    public async Task Concurrent_tasks_cannot_together_exceed_the_daily_tool_call_budget()
    {
        var tenant = TestInfrastructure.UniqueName("bud");
        await Host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson.Replace("\"toolCalls\": 5000", "\"toolCalls\": 10", StringComparison.Ordinal));
        var users = Enumerable.Range(0, 4).Select(i => new AgentPrincipal(tenant, $"user-{i}", ["agent-user"])).ToArray();
        var calls = users.SelectMany(user =>
        {
            var task = Guid.NewGuid();
            return Enumerable.Range(0, 8).Select(i => GovernanceHost.Call(user, task, "crm.lookup-customer", $$"""{"customerId":"c-{{i}}"}""", scope: "crm.read", stepId: $"s{i}"));
        }).ToArray();

        var results = await Task.WhenAll(calls.Select(Host.AuthorizeAsync));

        Assert.Equal(10, results.Count(r => r.Decision == AuthorizationDecision.Allow));
        Assert.All(results.Where(r => r.Decision != AuthorizationDecision.Allow), r => Assert.StartsWith("budget exhausted: tenant today tool calls", r.Reason, StringComparison.Ordinal));
        var tenantDay = await Host.QueryAsync(db => db.DailyUsage.AsNoTracking().SingleAsync(d => d.TenantId == tenant && d.UserId == ""));
        Assert.Equal(10, tenantDay.ToolCalls);
        Assert.Equal(10, await Host.QueryAsync(db => db.DailyUsage.Where(d => d.TenantId == tenant && d.UserId != "").SumAsync(d => d.ToolCalls)));

        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "boss", ["admin"]));
        using var usage = await admin.GetAsync(new Uri("/api/governance/usage", UriKind.Relative));
        using var body = JsonDocument.Parse(await usage.BodyAsync(HttpStatusCode.OK));
        Assert.Equal(10, body.RootElement.GetProperty("tenant").GetProperty("toolCalls").GetInt32());
        Assert.Equal(4, body.RootElement.GetProperty("tasks").GetArrayLength());
        Assert.Contains("budget.stop", await AuditActionsAsync(admin), StringComparer.Ordinal);

        // The chain stayed intact under concurrent appends.
        using var verify = await admin.GetAsync(new Uri("/api/governance/audit/verify", UriKind.Relative));
        using var verdict = JsonDocument.Parse(await verify.BodyAsync(HttpStatusCode.OK));
        Assert.True(verdict.RootElement.GetProperty("ok").GetBoolean(), verdict.RootElement.ToString());
    }

    [Fact]
    public async Task Verification_while_entries_are_being_appended_never_reports_a_sound_chain_as_tampered()
    {
        var tenant = TestInfrastructure.UniqueName("live");
        await Host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson);
        var user = new AgentPrincipal(tenant, "writer", ["agent-user"]);
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "boss", ["admin"]));
        var task = Guid.NewGuid();

        // Appends (authorizations) and verifications at the same time, for a bounded number of rounds.
        var appends = Task.Run(async () =>
        {
            for (var i = 0; i < 60; i++)
            {
                await Host.AuthorizeAsync(GovernanceHost.Call(user, task, "crm.lookup-customer", $$"""{"id":{{i}}}""", scope: "crm.read", stepId: $"s{i}"));
            }
        });
        var verdicts = new List<string>();
        while (!appends.IsCompleted)
        {
            using var response = await admin.GetAsync(new Uri("/api/governance/audit/verify", UriKind.Relative));
            verdicts.Add(await response.BodyAsync(HttpStatusCode.OK));
        }

        await appends;
        Assert.NotEmpty(verdicts);
        Assert.All(verdicts, v => Assert.True(JsonDocument.Parse(v).RootElement.GetProperty("ok").GetBoolean(), v));
    }

    [Fact]
    public async Task A_modified_audit_row_is_reported_at_its_sequence()
    {
        var tenant = TestInfrastructure.UniqueName("aud");
        await Host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson);
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        var task = Guid.NewGuid();
        Assert.IsType<TaskAdmitted>(await Host.AdmitAsync(new AdmitTask(task, user, "goal", null, null)));
        for (var i = 0; i < 3; i++)
        {
            await Host.AuthorizeAsync(GovernanceHost.Call(user, task, "crm.lookup-customer", $$"""{"id":{{i}}}""", scope: "crm.read"));
        }

        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "boss", ["admin"]));
        using var perTask = await admin.GetAsync(new Uri($"/api/governance/audit?taskId={task}", UriKind.Relative));
        using var entries = JsonDocument.Parse(await perTask.BodyAsync(HttpStatusCode.OK));
        Assert.Equal(["task.admitted", "tool.authorize", "tool.authorize", "tool.authorize"], entries.RootElement.EnumerateArray().Select(e => e.GetProperty("action").GetString()));
        Assert.True(await VerifiedOkAsync(admin));

        // The database refuses to rewrite, delete or truncate the trail, and the chain head cannot move back.
        await using (var connection = new NpgsqlConnection(Host.Database.ConnectionString))
        {
            await connection.OpenAsync();
            foreach (var sql in new[]
            {
                "UPDATE audit_entries SET decision = 'Deny' WHERE tenant_id = @t AND sequence = 3",
                "DELETE FROM audit_entries WHERE tenant_id = @t AND sequence = 4",
                "UPDATE audit_heads SET last_sequence = 1 WHERE tenant_id = @t",
                "UPDATE audit_heads SET last_hash = 'rewritten' WHERE tenant_id = @t",
                "TRUNCATE audit_entries",
                "DELETE FROM audit_heads WHERE tenant_id = @t",
            })
            {
                await using var refused = new NpgsqlCommand(sql, connection);
                refused.Parameters.AddWithValue("t", tenant);
                var error = await Assert.ThrowsAsync<PostgresException>(() => refused.ExecuteNonQueryAsync());
                Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, error.SqlState);
            }
        }

        Assert.True(await VerifiedOkAsync(admin));

        // An owner who disables the guard can still rewrite an entry; the chain shows it.
        // Sequence 1 is the policy change; 3 is the first authorization. Rewrite its decision in place.
        await using (var connection = new NpgsqlConnection(Host.Database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var update = new NpgsqlCommand(
                "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only; " +
                "UPDATE audit_entries SET decision = 'Deny' WHERE tenant_id = @t AND sequence = 3; " +
                "ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only;",
                connection);
            update.Parameters.AddWithValue("t", tenant);
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }

        using var verify = await admin.GetAsync(new Uri("/api/governance/audit/verify", UriKind.Relative));
        using var verdict = JsonDocument.Parse(await verify.BodyAsync(HttpStatusCode.OK));
        Assert.False(verdict.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(3, verdict.RootElement.GetProperty("firstTamperedSequence").GetInt64());
        Assert.Contains("hash does not match", verdict.RootElement.GetProperty("problem").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tenants_are_isolated_in_policies_approvals_usage_and_audit()
    {
        var tenantA = TestInfrastructure.UniqueName("iso-a");
        var tenantB = TestInfrastructure.UniqueName("iso-b");
        await Host.PutPolicyAsync(tenantA, PolicyDefaults.DemoPolicyJson);
        var userA = new AgentPrincipal(tenantA, "shared-name", ["agent-user"]);
        var approvalA = (await Host.AuthorizeAsync(GovernanceHost.Call(userA, Guid.NewGuid(), "tickets.create", """{"t":1}""", SideEffectClass.Mutating, scope: "tickets.write", tainted: true))).ApprovalId!.Value;
        await Host.AuthorizeAsync(GovernanceHost.Call(userA, Guid.NewGuid(), "crm.lookup-customer", scope: "crm.read"));

        using var bAdmin = Host.ClientFor(new AgentPrincipal(tenantB, "shared-name", ["admin", "approver"]));
        using var policy = JsonDocument.Parse(await (await bAdmin.GetAsync(new Uri("/api/governance/policy", UriKind.Relative))).BodyAsync(HttpStatusCode.OK));
        Assert.True(policy.RootElement.GetProperty("isDefault").GetBoolean());
        Assert.Equal("[]", await (await bAdmin.GetAsync(new Uri("/api/governance/policy/versions", UriKind.Relative))).BodyAsync(HttpStatusCode.OK));
        Assert.Equal("[]", await (await bAdmin.GetAsync(new Uri("/api/governance/approvals", UriKind.Relative))).BodyAsync(HttpStatusCode.OK));
        await (await bAdmin.GetAsync(new Uri($"/api/governance/approvals/{approvalA}", UriKind.Relative))).BodyAsync(HttpStatusCode.NotFound);
        using var approve = await bAdmin.PostAsJsonAsync(new Uri($"/api/governance/approvals/{approvalA}/approve", UriKind.Relative), new { comment = "not mine" });
        await approve.BodyAsync(HttpStatusCode.NotFound);

        using var usage = JsonDocument.Parse(await (await bAdmin.GetAsync(new Uri("/api/governance/usage", UriKind.Relative))).BodyAsync(HttpStatusCode.OK));
        Assert.Equal(0, usage.RootElement.GetProperty("tenant").GetProperty("toolCalls").GetInt32());
        Assert.Equal(0, usage.RootElement.GetProperty("tasks").GetArrayLength());
        Assert.Empty(await AuditActionsAsync(bAdmin));

        using var aAdmin = Host.ClientFor(new AgentPrincipal(tenantA, "boss", ["admin"]));
        Assert.Contains("approval.requested", await AuditActionsAsync(aAdmin), StringComparer.Ordinal);
        Assert.Equal(ApprovalStatusPending, await Host.QueryAsync(db => db.Approvals.Where(a => a.Id == approvalA).Select(a => a.Status).SingleAsync()));
    }

    private const string ApprovalStatusPending = "Pending";

    private static async Task<List<string>> AuditActionsAsync(HttpClient admin)
    {
        using var response = await admin.GetAsync(new Uri("/api/governance/audit?limit=1000", UriKind.Relative));
        using var entries = JsonDocument.Parse(await response.BodyAsync(HttpStatusCode.OK));
        return entries.RootElement.EnumerateArray().Select(e => e.GetProperty("action").GetString()!).ToList();
    }

    private static async Task<bool> VerifiedOkAsync(HttpClient admin)
    {
        using var response = await admin.GetAsync(new Uri("/api/governance/audit/verify", UriKind.Relative));
        using var verdict = JsonDocument.Parse(await response.BodyAsync(HttpStatusCode.OK));
        return verdict.RootElement.GetProperty("ok").GetBoolean();
    }
}
