using Agents.Contracts;
using Agents.Testing;
using Agents.ToolGateway.Tests.Infrastructure;

namespace Agents.ToolGateway.Tests;

/// <summary>The tool-gateway's <c>/metrics</c> (Prometheus text) shows tool call outcomes and circuit states.</summary>
[Collection(ToolGatewayCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class MetricsTests(ToolGatewayFixture gateway)
{
    [Fact]
    public async Task Failed_tool_call_shows_in_the_outcome_series_and_its_open_circuit_in_the_circuit_gauge()
    {
        var name = ToolGatewayFixture.UniqueToolName("metered");
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name));
        await gateway.StartToolAsync(name, (c, _) => ToolServiceDouble.TransientFailure(c, "upstream down"));
        var principal = gateway.NewPrincipal();

        // Three attempts, three transient failures: the call fails and the threshold opens the circuit.
        var failed = await gateway.InvokeAsync(ToolGatewayFixture.Call(principal, name));
        Assert.Equal(ToolCallOutcome.Failed, failed.Outcome);

        var tool = ("gen_ai_tool_name", name);
        var scrape = await PrometheusText.ScrapeAsync(gateway.Client);
        Assert.Equal(1, scrape.Sum("agents_tool_gateway_calls_total", tool, ("agents_tool_outcome", "Failed")));
        Assert.Equal(0, scrape.Sum("agents_tool_gateway_calls_total", tool, ("agents_tool_outcome", "Succeeded")));
        Assert.Equal(1, scrape.Sum("agents_tool_gateway_failures_total", tool));
        Assert.Equal(1, scrape.Sum("agents_tool_gateway_call_duration_seconds_count", tool));

        // Open (2) until the break ends, then half-open (1): either way not closed.
        var circuit = Assert.Single(scrape.Find("agents_tool_circuit_state", tool));
        Assert.InRange(circuit.Value, 1, 2);
    }
}
