using System.Net;
using System.Text;
using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Policies;
using Agents.Testing;
using Json.Schema;

namespace Agents.Governance.Tests;

[Trait("Category", "Infrastructure")]
public sealed class PolicyTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    private GovernanceHost Host => shared.Host;

    [Fact]
    public void Validator_reports_each_error_with_its_json_pointer()
    {
        const string json = """
            {
              "enabled": "yes",
              "approverRoles": [],
              "roles": { "agent-user": { "tools": ["CRM lookup"], "scopez": [] } },
              "toolRiskTiers": { "tickets.create": "Extreme" },
              "approvalRules": [ {}, { "tool": "payments.refund", "argument": "amount", "greaterThan": 100 }, { "argument": "/amount" } ],
              "budgets": { "perTask": { "tokens": -5 } },
              "approval": { "timeoutSeconds": 0, "onExpiry": "escalate" },
              "loopDetection": { "maxIdenticalCalls": 0 },
              "surprise": true
            }
            """;

        var document = PolicyValidator.Validate(json, out var errors);

        Assert.Null(document);
        var pointers = errors.Select(e => e.Pointer).ToHashSet();
        string[] expected =
        [
            "/enabled", "/adminRole", "/approverRoles", "/roles/agent-user/tools/0", "/roles/agent-user/scopez",
            "/toolRiskTiers/tickets.create", "/approvalRules/0", "/approvalRules/1/argument", "/approvalRules/2",
            "/budgets/perTask/tokens", "/approval/timeoutSeconds", "/approval/escalateTo", "/loopDetection/maxIdenticalCalls", "/surprise",
        ];
        foreach (var pointer in expected)
        {
            Assert.True(pointers.Contains(pointer), $"No error at {pointer}; got: {string.Join(" | ", errors.Select(e => e.Pointer + " " + e.Message))}");
        }
    }

    [Fact]
    public void Seeded_demo_policy_is_valid_and_allows_the_sample_tools_to_agent_users()
    {
        var document = PolicyValidator.Validate(PolicyDefaults.DemoPolicyJson, out var errors);

        Assert.Empty(errors);
        Assert.NotNull(document);
        foreach (var tool in new[] { "crm.lookup-customer", "web.fetch", "tickets.create" })
        {
            Assert.True(document.RolesAllowTool(["agent-user"], tool), tool);
        }

        Assert.False(document.RolesAllowTool(["agent-user"], "payments.refund"));
        Assert.Equal(["approver"], document.ApproverRoles);
        Assert.Equal("admin", document.AdminRole);
    }

    [Fact]
    public async Task Invalid_policy_put_answers_400_problem_details_with_pointers_and_changes_nothing()
    {
        var tenant = TestInfrastructure.UniqueName("pol");
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "alice", ["admin"]));
        using var content = new StringContent("""{"enabled": true, "adminRole": "admin", "approverRoles": ["approver"], "budgets": {"perTask": {"cost": "lots"}}}""", Encoding.UTF8, "application/json");

        using var response = await admin.PutAsync(new Uri("/api/governance/policy", UriKind.Relative), content);

        var body = await response.BodyAsync(HttpStatusCode.BadRequest);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal("https://agents.dev/problems/validation", problem.RootElement.GetProperty("type").GetString());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("/budgets/perTask/cost", out _), body);
        using var versions = await admin.GetAsync(new Uri("/api/governance/policy/versions", UriKind.Relative));
        Assert.Equal("[]", await versions.BodyAsync(HttpStatusCode.OK));

        using var malformed = new StringContent("{ not json", Encoding.UTF8, "application/json");
        using var malformedResponse = await admin.PutAsync(new Uri("/api/governance/policy", UriKind.Relative), malformed);
        await malformedResponse.BodyAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task The_schema_endpoint_serves_a_json_schema_that_the_default_and_demo_policies_satisfy()
    {
        var tenant = TestInfrastructure.UniqueName("schema");
        using var reader = Host.ClientFor(new AgentPrincipal(tenant, "reader", ["agent-user"]));

        using var response = await reader.GetAsync(new Uri("/api/governance/policy/schema", UriKind.Relative));

        var body = await response.BodyAsync(HttpStatusCode.OK);
        Assert.Equal("application/schema+json", response.Content.Headers.ContentType?.MediaType);
        using var schemaDocument = JsonDocument.Parse(body);
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", schemaDocument.RootElement.GetProperty("$schema").GetString());
        var schema = JsonSchema.Build(schemaDocument.RootElement, new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        using var shown = JsonDocument.Parse(await reader.GetStringAsync(new Uri("/api/governance/policy", UriKind.Relative)));
        var demo = PolicyValidator.Validate(PolicyDefaults.DemoPolicyJson, out _)!;
        string[] policies = [PolicyDefaults.Default.ToJson(), shown.RootElement.GetProperty("document").GetRawText(), PolicyDefaults.DemoPolicyJson, demo.ToJson()];
        foreach (var policy in policies)
        {
            using var instance = JsonDocument.Parse(policy);
            var result = schema.Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            Assert.True(result.IsValid, $"{policy}\n{JsonSerializer.Serialize(result)}");
        }

        using var anonymous = Host.ClientFor(new AgentPrincipal("x", "y", []));
        anonymous.DefaultRequestHeaders.Remove("X-Agents-Principal");
        using var refused = await anonymous.GetAsync(new Uri("/api/governance/policy/schema", UriKind.Relative));
        await refused.BodyAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Only_the_admin_role_may_put_a_policy()
    {
        var tenant = TestInfrastructure.UniqueName("pol");
        using var user = Host.ClientFor(new AgentPrincipal(tenant, "bob", ["agent-user"]));
        using var content = new StringContent(PolicyDefaults.DemoPolicyJson, Encoding.UTF8, "application/json");

        using var response = await user.PutAsync(new Uri("/api/governance/policy", UriKind.Relative), content);

        var body = await response.BodyAsync(HttpStatusCode.Forbidden);
        Assert.Contains("admin", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_without_a_signed_principal_get_401()
    {
        using var client = Host.ClientFor(new AgentPrincipal("x", "y", []));
        client.DefaultRequestHeaders.Remove("X-Agents-Principal");

        using var response = await client.GetAsync(new Uri("/api/governance/policy", UriKind.Relative));

        await response.BodyAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Tenant_access_names_the_admin_and_approver_roles_and_each_roles_grants_of_the_current_policy()
    {
        var tenant = TestInfrastructure.UniqueName("access");
        var user = new AgentPrincipal(tenant, "alice", ["agent-user"]);
        var approver = new AgentPrincipal(tenant, "bob", ["agent-user", "approver"]);
        var admin = new AgentPrincipal(tenant, "carol", ["admin"]);

        // No policy yet: the default one (admin 'admin', approver 'approver', no role may call anything).
        var initial = await Host.GetAccessAsync(tenant);
        Assert.Equal(0, initial.PolicyVersion);
        Assert.Equal("admin", initial.AdminRole);
        Assert.True(initial.MayActOnEveryTask(approver));
        Assert.False(initial.MayActOnEveryTask(user));
        Assert.False(initial.MayCall(user, "crm.lookup-customer", "crm.read"));

        await Host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson.Replace("\"approverRoles\": [\"approver\"]", "\"approverRoles\": [\"reviewer\"]", StringComparison.Ordinal));
        var written = await Host.GetAccessAsync(tenant);
        Assert.Equal(1, written.PolicyVersion);
        Assert.Contains("reviewer", written.ApproverRoles);
        Assert.False(written.MayActOnEveryTask(approver));
        Assert.True(written.MayActOnEveryTask(new AgentPrincipal(tenant, "rita", ["reviewer"])));
        Assert.True(written.IsAdmin(admin));
        Assert.False(written.IsAdmin(admin with { TenantId = "another-tenant" }));
        Assert.True(written.MayCall(user, "crm.lookup-customer", "crm.read"));
        Assert.False(written.MayCall(user, "crm.lookup-customer", "payments.write"));
        Assert.False(written.MayCall(user, "payments.refund", null));
        Assert.True(written.MayCall(admin, "payments.refund", "payments.write"));
    }

    [Fact]
    public async Task Every_version_is_kept_and_a_change_takes_effect_on_the_next_decision()
    {
        var tenant = TestInfrastructure.UniqueName("pol");
        var user = new AgentPrincipal(tenant, "carol", ["agent-user"]);
        var task = Guid.NewGuid();

        var before = await Host.AuthorizeAsync(GovernanceHost.Call(user, task, "crm.lookup-customer", scope: "crm.read"));
        Assert.Equal(AuthorizationDecision.Deny, before.Decision);

        await Host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson);
        var allowed = await Host.AuthorizeAsync(GovernanceHost.Call(user, task, "crm.lookup-customer", scope: "crm.read"));
        Assert.Equal(AuthorizationDecision.Allow, allowed.Decision);

        await Host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson.Replace("\"crm.lookup-customer\", ", string.Empty, StringComparison.Ordinal));
        var after = await Host.AuthorizeAsync(GovernanceHost.Call(user, task, "crm.lookup-customer", """{"id":2}""", scope: "crm.read"));
        Assert.Equal(AuthorizationDecision.Deny, after.Decision);

        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "policy-admin", ["admin"]));
        using var versions = await admin.GetAsync(new Uri("/api/governance/policy/versions", UriKind.Relative));
        using var list = JsonDocument.Parse(await versions.BodyAsync(HttpStatusCode.OK));
        Assert.Equal([2, 1], list.RootElement.EnumerateArray().Select(v => v.GetProperty("version").GetInt32()));
        using var current = await admin.GetAsync(new Uri("/api/governance/policy", UriKind.Relative));
        using var policy = JsonDocument.Parse(await current.BodyAsync(HttpStatusCode.OK));
        Assert.Equal(2, policy.RootElement.GetProperty("version").GetInt32());
        using var first = await admin.GetAsync(new Uri("/api/governance/policy/versions/1", UriKind.Relative));
        Assert.Contains("crm.lookup-customer", await first.BodyAsync(HttpStatusCode.OK), StringComparison.Ordinal);
    }
}
