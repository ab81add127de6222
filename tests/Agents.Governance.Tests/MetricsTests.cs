using System.Net.Http.Json;
using Agents.Contracts;
using Agents.Governance.Consumers;
using Agents.Testing;

namespace Agents.Governance.Tests;

/// <summary>
/// Governance's <c>/metrics</c> (Prometheus text, scraped from the real host): decisions by reason, the kill switch
/// gauge, and the depth of the platform's <c>_error</c> queues, which governance measures for the whole platform
/// through the RabbitMQ management API.
/// </summary>
[Collection(MetricsCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class MetricsTests : IAsyncLifetime
{
    private GovernanceHost? _host;

    public async Task InitializeAsync() => _host = await GovernanceHost.StartAsync(measureOften: true);

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [Fact]
    public async Task Kill_switch_denial_shows_as_a_decision_by_reason_and_the_switch_as_a_gauge()
    {
        var host = _host!;
        var tenant = TestInfrastructure.UniqueName("metrics");
        var user = new AgentPrincipal(tenant, "u1", ["agent-user"]);
        using var admin = host.ClientFor(new AgentPrincipal(tenant, "boss", ["admin"]));
        using var on = await admin.PostAsJsonAsync(new Uri("/api/governance/kill-switch", UriKind.Relative), new { tool = "crm.lookup-customer", enabled = true, reason = "incident" });
        await on.BodyAsync(System.Net.HttpStatusCode.OK);

        var denied = await host.AuthorizeAsync(GovernanceHost.Call(user, Guid.NewGuid(), "crm.lookup-customer", scope: "crm.read"));
        Assert.Equal(AuthorizationDecision.Deny, denied.Decision);

        using var client = host.ClientFor(user);
        var scrape = await PrometheusText.ScrapeUntilAsync(
            client, s => s.Has("agents_governance_kill_switch", ("agents_tenant", tenant)), TimeSpan.FromSeconds(30), "the kill switch gauge");
        Assert.Equal(1, scrape.Sum("agents_governance_kill_switch", ("agents_tenant", tenant), ("gen_ai_tool_name", "crm.lookup-customer")));
        Assert.Equal(1, scrape.Sum(
            "agents_governance_decisions_total",
            ("agents_tenant", tenant),
            ("agents_governance_action", "tool.authorize"),
            ("agents_governance_decision", "Deny"),
            ("agents_governance_reason", "kill_switch")));
        Assert.Equal(1, scrape.Sum("agents_governance_decisions_total", ("agents_tenant", tenant), ("agents_governance_action", "kill-switch.changed")));

        // Switched off, the switch leaves the gauge at the next measurement.
        using var off = await admin.PostAsJsonAsync(new Uri("/api/governance/kill-switch", UriKind.Relative), new { tool = "crm.lookup-customer", enabled = false });
        await off.BodyAsync(System.Net.HttpStatusCode.OK);
        await PrometheusText.ScrapeUntilAsync(
            client, s => !s.Has("agents_governance_kill_switch", ("agents_tenant", tenant)), TimeSpan.FromSeconds(30), "the kill switch gone from the gauge");
    }

    [Fact]
    public async Task Message_moved_to_an_error_queue_shows_in_the_error_queue_depth()
    {
        var host = _host!;
        var queue = host.QueueOf<AuthorizeToolCallConsumer>().AbsolutePath;

        // A request without a principal fails permanently: no retries, straight to the _error queue.
        var poison = GovernanceHost.Call(new AgentPrincipal("t", "u", []), Guid.NewGuid(), "crm.lookup-customer") with { Principal = null! };
        await host.SendAsync<AuthorizeToolCall, AuthorizeToolCallConsumer>(poison);

        using var client = host.ClientFor(new AgentPrincipal("t", "u", []));
        var error = ("messaging_destination_name", queue);
        var scrape = await PrometheusText.ScrapeUntilAsync(
            client, s => s.Sum("agents_messaging_queue_messages", error, ("agents_queue_kind", "error")) >= 1, TimeSpan.FromSeconds(60), $"a message in {queue}_error");
        Assert.Equal(1, scrape.Sum("agents_messaging_queue_messages", error, ("agents_queue_kind", "error")));
        Assert.True(scrape.Has("agents_messaging_queue_messages", error, ("agents_queue_kind", "work")), "the work queue is measured too");
    }
}

/// <summary>
/// Runs the metrics tests alone: a meter listener sees the instruments of every host alive in the process, and the
/// gauges of another governance host (same names, its own queues) would be read in place of this test's.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "governance-metrics";
}
