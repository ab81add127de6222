using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Agents.Contracts;
using Agents.ServiceDefaults;
using Agents.Testing;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Agents.ToolGateway.Tests;

/// <summary>What each caller is shown, stale and retired tools, and circuits moved by announcements and operators.</summary>
[Collection(ToolGatewayCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class RegistryLifeTests(ToolGatewayFixture gateway)
{
    [Fact]
    public async Task Tools_are_listed_only_to_callers_whose_roles_may_call_them_and_admins_see_every_tool_with_allowed()
    {
        var granted = ToolGatewayFixture.UniqueToolName("granted");
        var other = ToolGatewayFixture.UniqueToolName("other");
        var unscoped = ToolGatewayFixture.UniqueToolName("granted-unscoped");
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(granted));
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(other));
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(unscoped) with { RequiredScope = "payments.write" });

        // The user's role allows 'granted*' tools with scope tests.*: 'other' is not allowed, nor the one needing payments.write.
        var tenant = TestInfrastructure.UniqueName("tenant");
        gateway.Governance.SetAccess(new TenantAccess(tenant, 3, "boss", ["boss"], new Dictionary<string, RoleGrant>
        {
            ["agent-user"] = new([granted, unscoped], ["tests.*"]),
        }));
        var user = new AgentPrincipal(tenant, "alice", ["agent-user"]);
        var admin = new AgentPrincipal(tenant, "carol", ["boss"]);
        var stranger = new AgentPrincipal(tenant, "mallory", ["visitor"]);

        var seen = await ListAsync(user);
        Assert.Equal([granted], seen.Keys.Where(n => n == granted || n == other || n == unscoped));
        Assert.All(seen.Values, t => Assert.True(t.GetProperty("allowed").GetBoolean()));
        Assert.Empty(await ListAsync(stranger));
        Assert.Equal(HttpStatusCode.OK, await StatusOfAsync("/api/tools/" + granted, user));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOfAsync("/api/tools/" + other, user));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOfAsync("/api/tools/" + unscoped, user));

        // The admin sees every tool, each with whether the admin's own roles may call it.
        var all = await ListAsync(admin);
        Assert.Contains(granted, all.Keys);
        Assert.Contains(other, all.Keys);
        Assert.False(all[other].GetProperty("allowed").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, await StatusOfAsync("/api/tools/" + other, admin));
    }

    [Fact]
    public async Task When_governance_does_not_say_what_a_caller_may_use_the_registry_shows_nothing_and_answers_503()
    {
        var name = ToolGatewayFixture.UniqueToolName("unsure");
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name));
        var caller = new AgentPrincipal(TestInfrastructure.UniqueName("tenant"), "alice", ["agent-user"]);
        gateway.Governance.SilenceAccess(caller.TenantId);

        foreach (var path in new[] { "/api/tools", "/api/tools/" + name })
        {
            using var response = await gateway.Client.SendAsync(gateway.Get(path, caller));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(ProblemTypes.Unavailable, problem.GetProperty("type").GetString());
            Assert.DoesNotContain(name, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_tool_not_announced_for_StaleAfter_is_stale_and_its_calls_fail_at_once_until_it_announces_again()
    {
        var name = ToolGatewayFixture.UniqueToolName("quiet");
        var tool = await gateway.StartToolAsync(name, (c, _) => ToolServiceDouble.Success(c, """{"ok":true}"""));
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name), "quiet-1", DateTimeOffset.UtcNow - ToolGatewayFixture.StaleAfter - TimeSpan.FromMinutes(1));
        var principal = gateway.NewPrincipal();

        Assert.Equal("Stale", (await ListAsync(principal))[name].GetProperty("status").GetString());
        var refused = await gateway.InvokeAsync(ToolGatewayFixture.Call(principal, name));
        Assert.Equal(ToolCallOutcome.Failed, refused.Outcome);
        Assert.Equal(0, refused.Attempts);
        Assert.Contains("stale", refused.Error, StringComparison.Ordinal);
        Assert.Equal(0, tool.Calls);

        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name), "quiet-2");
        Assert.Equal("Active", (await ListAsync(principal))[name].GetProperty("status").GetString());
        var called = await gateway.InvokeAsync(ToolGatewayFixture.Call(principal, name));
        Assert.Equal(ToolCallOutcome.Succeeded, called.Outcome);
        Assert.Equal(1, tool.Calls);
    }

    [Fact]
    public async Task Only_an_operator_admin_retires_a_tool_which_is_then_hidden_and_refused_even_when_it_announces_until_reinstated()
    {
        var name = ToolGatewayFixture.UniqueToolName("old");
        var tool = await gateway.StartToolAsync(name, (c, _) => ToolServiceDouble.Success(c, """{"ok":true}"""));
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name));
        var user = gateway.NewPrincipal();
        var operatorAdmin = new AgentPrincipal(ToolGatewayFixture.OperatorTenant, "olga", ["admin"]);

        // Another tenant's admin cannot change the shared registry, nor can an operator tenant's ordinary user.
        var tenantAdmin = new AgentPrincipal(user.TenantId, "carol", ["admin"]);
        var operatorUser = new AgentPrincipal(ToolGatewayFixture.OperatorTenant, "oscar", ["agent-user"]);
        foreach (var caller in new[] { tenantAdmin, operatorUser, user })
        {
            using var refused = await PostAsync($"/api/tools/{name}/retire", caller);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal(ProblemTypes.Forbidden, (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        }

        using (var retired = await PostAsync($"/api/tools/{name}/retire", operatorAdmin))
        {
            Assert.Equal(HttpStatusCode.OK, retired.StatusCode);
        }

        Assert.DoesNotContain(name, (await ListAsync(user)).Keys);
        Assert.Equal(HttpStatusCode.NotFound, await StatusOfAsync("/api/tools/" + name, user));
        var shown = (await ListAsync(tenantAdmin))[name];
        Assert.Equal("Retired", shown.GetProperty("status").GetString());

        // Announcing again does not bring it back; calls fail without reaching the tool.
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name, version: "1.0.1"));
        var call = await gateway.InvokeAsync(ToolGatewayFixture.Call(user, name));
        Assert.Equal(ToolCallOutcome.UnknownTool, call.Outcome);
        Assert.Contains("retired by operators/olga", call.Error, StringComparison.Ordinal);
        Assert.Equal(0, tool.Calls);

        using (var reinstated = await PostAsync($"/api/tools/{name}/reinstate", operatorAdmin))
        {
            Assert.Equal(HttpStatusCode.OK, reinstated.StatusCode);
        }

        Assert.Equal("Active", (await ListAsync(user))[name].GetProperty("status").GetString());
        Assert.Equal(ToolCallOutcome.Succeeded, (await gateway.InvokeAsync(ToolGatewayFixture.Call(user, name))).Outcome);
        Assert.Equal(1, tool.Calls);
        using var unknown = await PostAsync($"/api/tools/{ToolGatewayFixture.UniqueToolName("nothing")}/retire", operatorAdmin);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task An_open_circuit_becomes_half_open_when_its_tool_announces_again_and_the_trial_closes_it()
    {
        var (name, tool, principal) = await HealthyToolWithAnOpenCircuitAsync("back");

        // The tool host restarted and announces: the break ends now, the next call is the trial.
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name), "back-restarted");
        await WaitForCircuitAsync(name, principal, "HalfOpen");
        var trial = await gateway.InvokeAsync(ToolGatewayFixture.Call(principal, name));
        Assert.Equal(ToolCallOutcome.Succeeded, trial.Outcome);
        Assert.Equal(1, tool.Calls);
        Assert.Equal("Closed", await CircuitOfAsync(name, principal));
    }

    [Fact]
    public async Task An_operator_admin_resets_an_open_circuit_and_calls_go_through_again()
    {
        var (name, tool, principal) = await HealthyToolWithAnOpenCircuitAsync("reset");

        using (var refused = await PostAsync($"/api/tools/{name}/circuit/reset", new AgentPrincipal(principal.TenantId, "carol", ["admin"])))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        Assert.Equal("Open", await CircuitOfAsync(name, principal));
        using (var reset = await PostAsync($"/api/tools/{name}/circuit/reset", new AgentPrincipal(ToolGatewayFixture.OperatorTenant, "olga", ["admin"])))
        {
            Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        }

        await WaitForCircuitAsync(name, principal, "Closed");
        await using (var db = gateway.CreateDbContext())
        {
            var row = await db.Circuits.AsNoTracking().SingleAsync(c => c.Tool == name);
            Assert.Equal(CircuitState.Closed, row.State);
            Assert.Equal(0, row.ConsecutiveFailures);
            Assert.Equal("operators/olga", row.UpdatedBy);
        }

        var call = await gateway.InvokeAsync(ToolGatewayFixture.Call(principal, name));
        Assert.Equal(ToolCallOutcome.Succeeded, call.Outcome);
        Assert.Equal(1, tool.Calls);
    }

    /// <summary>
    /// A healthy tool whose circuit is stored as open for an hour (as a gateway leaves it before a restart), after a call
    /// that loaded it into the gateway's memory and was refused.
    /// </summary>
    private async Task<(string Name, ToolServiceDouble Tool, AgentPrincipal Principal)> HealthyToolWithAnOpenCircuitAsync(string prefix)
    {
        var name = ToolGatewayFixture.UniqueToolName(prefix);
        var tool = await gateway.StartToolAsync(name, (c, _) => ToolServiceDouble.Success(c, """{"ok":true}"""));
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name));
        var principal = gateway.NewPrincipal();
        var now = DateTimeOffset.UtcNow;
        await using (var db = gateway.CreateDbContext())
        {
            db.Circuits.Add(new CircuitStateRecord
            {
                Tool = name,
                State = CircuitState.Open,
                ConsecutiveFailures = ToolGatewayFixture.CircuitFailureThreshold,
                OpenedAt = now,
                OpenUntil = now.AddHours(1),
                UpdatedAt = now,
                UpdatedBy = "test",
            });
            await db.SaveChangesAsync();
        }

        var refused = await gateway.InvokeAsync(ToolGatewayFixture.Call(principal, name));
        Assert.Equal(ToolCallOutcome.CircuitOpen, refused.Outcome);
        Assert.Equal("Open", await CircuitOfAsync(name, principal));
        return (name, tool, principal);
    }

    private async Task WaitForCircuitAsync(string name, AgentPrincipal principal, string state)
    {
        string? seen = null;
        await Poll.UntilAsync(
            async () => (seen = await CircuitOfAsync(name, principal)) == state,
            () => $"the circuit of {name} to become {state} (it stayed {seen})",
            every: TimeSpan.FromMilliseconds(50));
    }

    private async Task<string?> CircuitOfAsync(string name, AgentPrincipal principal) =>
        (await ListAsync(principal))[name].GetProperty("circuit").GetProperty("state").GetString();

    private async Task<Dictionary<string, JsonElement>> ListAsync(AgentPrincipal principal)
    {
        using var response = await gateway.Client.SendAsync(gateway.Get("/api/tools", principal));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var tools = await response.Content.ReadFromJsonAsync<JsonElement>();
        return tools.EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!, t => t.Clone(), StringComparer.Ordinal);
    }

    private async Task<HttpStatusCode> StatusOfAsync(string path, AgentPrincipal principal)
    {
        using var response = await gateway.Client.SendAsync(gateway.Get(path, principal));
        return response.StatusCode;
    }

    private async Task<HttpResponseMessage> PostAsync(string path, AgentPrincipal principal)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative));
        request.Headers.Add(Agents.ServiceDefaults.Identity.PrincipalSigner.HeaderName, gateway.SignedPrincipal(principal));
        return await gateway.Client.SendAsync(request);
    }
}
