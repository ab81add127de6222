using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Policies;
using Agents.Testing;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Tests;

/// <summary>Policy writes: bounded strings and size, no lock-out, optimistic concurrency, an audit that says what changed, and approvals someone can decide.</summary>
[Trait("Category", "Infrastructure")]
public sealed class PolicyWriteTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    private static readonly Uri PolicyUri = new("/api/governance/policy", UriKind.Relative);

    private GovernanceHost Host => shared.Host;

    public static TheoryData<string, string, string> BadStrings => new()
    {
        { "\"adminRole\": \"admin\"", $"\"adminRole\": \"{new string('a', 101)}\"", "/adminRole" },
        { "\"adminRole\": \"admin\"", "\"adminRole\": \"ad\\u0007min\"", "/adminRole" },
        { "\"adminRole\": \"admin\"", "\"adminRole\": \" admin\"", "/adminRole" },
        { "\"approverRoles\": [\"approver\"]", "\"approverRoles\": [\"appr\\nover\"]", "/approverRoles/0" },
        { "\"approverRoles\": [\"approver\"]", $"\"approverRoles\": [\"{new string('b', 500)}\"]", "/approverRoles/0" },
        { "\"agent-user\":", "\"agent\\u0001user\":", "/roles/agent\u0001user" },
    };

    [Theory]
    [MemberData(nameof(BadStrings))]
    public async Task A_role_name_too_long_or_not_printable_is_400_with_its_pointer_and_nothing_is_stored(string find, string replace, string pointer)
    {
        var tenant = TestInfrastructure.UniqueName("pw");
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "root", ["admin"]));

        using var response = await PutAsync(admin, Policy(find, replace));

        using var problem = JsonDocument.Parse(await response.BodyAsync(HttpStatusCode.BadRequest));
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(pointer, out _), problem.RootElement.ToString());
        Assert.Equal(0, await VersionsAsync(tenant));
    }

    [Fact]
    public async Task A_policy_over_the_size_limit_is_413_and_nothing_is_stored()
    {
        var tenant = TestInfrastructure.UniqueName("pw");
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "root", ["admin"]));
        var padding = string.Join(", ", Enumerable.Range(0, 4000).Select(i => $"\"tool-{i:D5}.x\": \"Low\""));

        using var response = await PutAsync(admin, PolicyDefaults.DemoPolicyJson.Replace("\"toolRiskTiers\": {", "\"toolRiskTiers\": {" + padding + ",", StringComparison.Ordinal));

        Assert.Contains("payload-too-large", await response.BodyAsync(HttpStatusCode.RequestEntityTooLarge), StringComparison.Ordinal);
        Assert.Equal(0, await VersionsAsync(tenant));
    }

    [Fact]
    public async Task A_policy_under_which_the_writer_is_no_longer_an_admin_is_refused()
    {
        var tenant = TestInfrastructure.UniqueName("pw");
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "root", ["admin", "agent-user"]));

        using var response = await PutAsync(admin, Policy("\"adminRole\": \"admin\"", "\"adminRole\": \"superuser\""));

        var body = await response.BodyAsync(HttpStatusCode.BadRequest);
        Assert.Contains("no longer be an admin", body, StringComparison.Ordinal);
        Assert.Equal(0, await VersionsAsync(tenant));

        using var kept = await PutAsync(new AgentPrincipal(tenant, "root2", ["admin", "superuser"]), Policy("\"adminRole\": \"admin\"", "\"adminRole\": \"superuser\""));
        await kept.BodyAsync(HttpStatusCode.OK);
    }

    [Fact]
    public async Task If_match_with_a_stale_version_is_412_and_the_audit_records_the_previous_version_and_the_changes()
    {
        var tenant = TestInfrastructure.UniqueName("pw");
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "root", ["admin"]));
        using var initial = await admin.GetAsync(PolicyUri);
        await initial.BodyAsync(HttpStatusCode.OK);
        Assert.Equal("\"0\"", initial.Headers.ETag?.ToString());

        using var first = await PutAsync(admin, PolicyDefaults.DemoPolicyJson, "\"0\"");
        await first.BodyAsync(HttpStatusCode.OK);
        Assert.Equal("\"1\"", first.Headers.ETag?.ToString());

        // A second admin who also read version 0 does not overwrite the first one's change.
        using var stale = await PutAsync(admin, PolicyDefaults.DemoPolicyJson.Replace("3600", "600", StringComparison.Ordinal), "\"0\"");
        Assert.Contains("version 1 is current", await stale.BodyAsync(HttpStatusCode.PreconditionFailed), StringComparison.Ordinal);
        Assert.Equal(1, await VersionsAsync(tenant));

        using var garbled = await PutAsync(admin, PolicyDefaults.DemoPolicyJson, "version-1");
        await garbled.BodyAsync(HttpStatusCode.BadRequest);

        using var second = await PutAsync(admin, PolicyDefaults.DemoPolicyJson.Replace("3600", "600", StringComparison.Ordinal), "\"1\"");
        await second.BodyAsync(HttpStatusCode.OK);
        Assert.Equal(2, await VersionsAsync(tenant));

        using var auditResponse = await admin.GetAsync(new Uri("/api/governance/audit", UriKind.Relative));
        using var audit = JsonDocument.Parse(await auditResponse.BodyAsync(HttpStatusCode.OK));
        var change = audit.RootElement.EnumerateArray().Last(e => e.GetProperty("action").GetString() == "policy.changed").GetProperty("details");
        Assert.Equal(1, change.GetProperty("previousVersion").GetInt32());
        var diff = Assert.Single(change.GetProperty("changes").EnumerateArray());
        Assert.Equal("/approval/timeoutSeconds", diff.GetProperty("pointer").GetString());
        Assert.Equal(3600, diff.GetProperty("before").GetInt32());
        Assert.Equal(600, diff.GetProperty("after").GetInt32());
    }

    [Fact]
    public async Task An_admin_can_always_decide_an_approval_so_a_tenant_without_approvers_is_not_stuck()
    {
        var tenant = TestInfrastructure.UniqueName("pw");
        await Host.PutPolicyAsync(tenant, PolicyDefaults.DemoPolicyJson);
        var requester = new AgentPrincipal(tenant, "requester", ["agent-user"]);
        const string args = """{"customerId":"c-1","title":"Refund request"}""";
        var call = GovernanceHost.Call(requester, Guid.NewGuid(), "tickets.create", args, SideEffectClass.Mutating, RiskTier.Medium, "tickets.write", tainted: true, stepId: "open-ticket");

        var required = await Host.AuthorizeAsync(call);
        Assert.Equal(AuthorizationDecision.RequireApproval, required.Decision);

        // No one in this tenant holds "approver"; its admin sees and decides the approval.
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "root", ["admin"]));
        using var pending = await admin.GetAsync(new Uri("/api/governance/approvals", UriKind.Relative));
        using var list = JsonDocument.Parse(await pending.BodyAsync(HttpStatusCode.OK));
        Assert.Equal(required.ApprovalId, Assert.Single(list.RootElement.EnumerateArray()).GetProperty("id").GetGuid());
        using var approve = await admin.PostAsJsonAsync(new Uri($"/api/governance/approvals/{required.ApprovalId}/approve", UriKind.Relative), new { comment = "ok" });
        await approve.BodyAsync(HttpStatusCode.OK);

        var allowed = await Host.AuthorizeAsync(call with { ApprovalId = required.ApprovalId });
        Assert.Equal(AuthorizationDecision.Allow, allowed.Decision);
    }

    private static string Policy(string find, string replace)
    {
        Assert.Contains(find, PolicyDefaults.DemoPolicyJson, StringComparison.Ordinal);
        return PolicyDefaults.DemoPolicyJson.Replace(find, replace, StringComparison.Ordinal);
    }

    private async Task<HttpResponseMessage> PutAsync(AgentPrincipal principal, string json)
    {
        using var client = Host.ClientFor(principal);
        return await PutAsync(client, json);
    }

    private static async Task<HttpResponseMessage> PutAsync(HttpClient client, string json, string? ifMatch = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, PolicyUri) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        return await client.SendAsync(request);
    }

    private Task<int> VersionsAsync(string tenant) => Host.QueryAsync(db => db.Policies.CountAsync(p => p.TenantId == tenant));
}
