using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Agents.Contracts;
using Agents.Governance.Policies;
using Agents.Testing;
using Microsoft.EntityFrameworkCore;

namespace Agents.Governance.Tests;

/// <summary>Bad input on every write route and query is a 4xx problem naming what is wrong, and nothing is stored.</summary>
[Trait("Category", "Infrastructure")]
public sealed class BadInputTests(SharedGovernanceHost shared) : IClassFixture<SharedGovernanceHost>
{
    private GovernanceHost Host => shared.Host;

    public static TheoryData<string, string, string> Writes => new()
    {
        { "PUT", "/api/governance/policy", PolicyWith("\"adminRole\": \"admin\"", "\"adminRole\": \"ad\\u0000min\"") + "|adminRole" },
        { "PUT", "/api/governance/policy", PolicyWith("\"adminRole\": \"admin\"", "\"adminRole\": \"\\uD800\"") + "|adminRole" },
        { "POST", "/api/governance/kill-switch", """{"tool":"crm.lookup-customer","enabled":true,"reason":"a\u0000"}|reason""" },
        { "POST", "/api/governance/kill-switch", """{"tool":"crm.lookup-customer","enabled":true,"tenant":"other"}|tenant""" },
        { "POST", "/api/governance/kill-switch", """{"tool":"crm.lookup-customer","enabled":true,"reason":"\uDFFF"}|reason""" },
        { "POST", "/api/governance/kill-switch", $$"""{"tool":"crm.lookup-customer","enabled":true,"reason":"{{new string('r', 2001)}}"}|/reason""" },
    };

    [Theory]
    [MemberData(nameof(Writes))]
    public async Task A_bad_string_or_unknown_field_is_400_naming_the_field_and_nothing_is_stored(string method, string route, string bodyAndField)
    {
        var tenant = TestInfrastructure.UniqueName("bad");
        var (body, field) = (bodyAndField[..bodyAndField.LastIndexOf('|')], bodyAndField[(bodyAndField.LastIndexOf('|') + 1)..]);
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "admin-1", ["admin"]));
        using var request = new HttpRequestMessage(new HttpMethod(method), route) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

        using var response = await admin.SendAsync(request);

        using var problem = JsonDocument.Parse(await response.BodyAsync(HttpStatusCode.BadRequest));
        Assert.Equal("https://agents.dev/problems/validation", problem.RootElement.GetProperty("type").GetString());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), problem.RootElement.ToString());
        Assert.Equal(0, await StoredAsync(tenant));
    }

    [Theory]
    [InlineData("/api/governance/policy", "PUT", "text/plain")]
    [InlineData("/api/governance/policy", "PUT", "application/xml")]
    [InlineData("/api/governance/policy", "PUT", "application/x-www-form-urlencoded")]
    [InlineData("/api/governance/kill-switch", "POST", "multipart/form-data; boundary=x")]
    public async Task A_body_that_is_not_json_is_415(string route, string method, string contentType)
    {
        var tenant = TestInfrastructure.UniqueName("bad");
        using var admin = Host.ClientFor(new AgentPrincipal(tenant, "admin-1", ["admin"]));
        using var content = new StringContent(PolicyDefaults.DemoPolicyJson, Encoding.UTF8);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        using var request = new HttpRequestMessage(new HttpMethod(method), route) { Content = content };

        using var response = await admin.SendAsync(request);

        Assert.Contains("unsupported-media-type", await response.BodyAsync(HttpStatusCode.UnsupportedMediaType), StringComparison.Ordinal);
        Assert.Equal(0, await StoredAsync(tenant));
    }

    [Fact]
    public async Task An_approval_decision_with_a_nul_comment_is_400()
    {
        using var approver = Host.ClientFor(new AgentPrincipal(TestInfrastructure.UniqueName("bad"), "approver-1", ["approver"]));
        using var content = new StringContent("""{"comment":"ok\u0000"}""", Encoding.UTF8, "application/json");

        using var response = await approver.PostAsync(new Uri($"/api/governance/approvals/{Guid.NewGuid()}/approve", UriKind.Relative), content);

        using var problem = JsonDocument.Parse(await response.BodyAsync(HttpStatusCode.BadRequest));
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("comment", out _));
    }

    [Fact]
    public async Task An_approval_decision_with_an_oversized_comment_is_400()
    {
        using var approver = Host.ClientFor(new AgentPrincipal(TestInfrastructure.UniqueName("bad"), "approver-1", ["approver"]));

        using var response = await approver.PostAsJsonAsync(new Uri($"/api/governance/approvals/{Guid.NewGuid()}/reject", UriKind.Relative), new { comment = new string('c', 2001) });

        using var problem = JsonDocument.Parse(await response.BodyAsync(HttpStatusCode.BadRequest));
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("/comment", out _));
    }

    [Theory]
    [InlineData("?limit=99999999999", "limit")]
    [InlineData("?limit=1&limit=2", "limit")]
    [InlineData("?taskId=nope", "taskId")]
    [InlineData("?after=abc", "after")]
    public async Task An_audit_query_value_that_does_not_bind_is_400(string query, string parameter)
    {
        using var admin = Host.ClientFor(new AgentPrincipal(TestInfrastructure.UniqueName("bad"), "admin-1", ["admin"]));

        using var response = await admin.GetAsync(new Uri("/api/governance/audit" + query, UriKind.Relative));

        using var problem = JsonDocument.Parse(await response.BodyAsync(HttpStatusCode.BadRequest));
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(parameter, out _), problem.RootElement.ToString());
    }

    [Theory]
    [InlineData("?status=%00")]
    [InlineData("?status=Sleeping")]
    public async Task An_approvals_status_that_is_not_one_is_400(string query)
    {
        using var approver = Host.ClientFor(new AgentPrincipal(TestInfrastructure.UniqueName("bad"), "bob", ["approver"]));

        using var response = await approver.GetAsync(new Uri("/api/governance/approvals" + query, UriKind.Relative));

        using var problem = JsonDocument.Parse(await response.BodyAsync(HttpStatusCode.BadRequest));
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("status", out _), problem.RootElement.ToString());
        using var lowerCase = await approver.GetAsync(new Uri("/api/governance/approvals?status=pending", UriKind.Relative));
        Assert.Equal("[]", await lowerCase.BodyAsync(HttpStatusCode.OK));
    }

    private static string PolicyWith(string find, string replace)
    {
        Assert.Contains(find, PolicyDefaults.DemoPolicyJson, StringComparison.Ordinal);
        return PolicyDefaults.DemoPolicyJson.Replace(find, replace, StringComparison.Ordinal);
    }

    private Task<int> StoredAsync(string tenant) => Host.QueryAsync(async db =>
        await db.Policies.CountAsync(p => p.TenantId == tenant)
        + await db.KillSwitches.CountAsync(k => k.TenantId == tenant)
        + await db.Audit.CountAsync(a => a.TenantId == tenant));
}
