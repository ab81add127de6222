using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Agents.Contracts;
using Agents.Testing;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Invocation;
using Agents.ToolGateway.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.ToolGateway.Tests;

[Collection(ToolGatewayCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class CircuitBreakerTests(ToolGatewayFixture gateway)
{
    [Fact]
    public async Task Tool_that_keeps_failing_opens_its_circuit_then_a_trial_after_the_break_closes_it()
    {
        var name = ToolGatewayFixture.UniqueToolName("flaky");
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name));
        var healthy = false;
        var tool = await gateway.StartToolAsync(name, (c, _) => Volatile.Read(ref healthy)
            ? ToolServiceDouble.Success(c, """{"ok":true}""")
            : ToolServiceDouble.TransientFailure(c, "upstream down"));
        var principal = gateway.NewPrincipal();

        // Three attempts, three consecutive failures: the threshold opens the circuit.
        var failed = await gateway.InvokeAsync(ToolGatewayFixture.Call(principal, name));
        Assert.Equal(ToolCallOutcome.Failed, failed.Outcome);
        Assert.Equal(ToolGatewayFixture.CircuitFailureThreshold, failed.Attempts);
        Assert.Equal(ToolGatewayFixture.CircuitFailureThreshold, tool.Calls);
        Assert.Equal("Open", await CircuitStateAsync(name, principal));

        var refusedCall = ToolGatewayFixture.Call(principal, name);
        var refused = await gateway.InvokeAsync(refusedCall);
        Assert.Equal(ToolCallOutcome.CircuitOpen, refused.Outcome);
        Assert.Equal(0, refused.Attempts);
        Assert.Contains("circuit", refused.Error, StringComparison.Ordinal);
        Assert.Equal(ToolGatewayFixture.CircuitFailureThreshold, tool.Calls);

        // With the circuit open governance is still asked first, without the call attached (nothing may reach the tool),
        // and a caller it refuses learns the refusal, not the tool's health.
        Assert.Null(Assert.Single(gateway.Governance.RequestsFor(refusedCall.TaskId)).ThenExecute);
        var stranger = gateway.NewPrincipal(allow: false);
        gateway.Governance.Answer(stranger.TenantId, _ => new ToolCallAuthorization(AuthorizationDecision.Deny, "not for strangers"));
        var denied = await gateway.InvokeAsync(ToolGatewayFixture.Call(stranger, name));
        Assert.Equal((ToolCallOutcome.Denied, "not for strangers"), (denied.Outcome, denied.Error));
        Assert.Equal(ToolGatewayFixture.CircuitFailureThreshold, tool.Calls);

        await using (var db = gateway.CreateDbContext())
        {
            var row = await db.Circuits.AsNoTracking().SingleAsync(c => c.Tool == name);
            Assert.Equal(CircuitState.Open, row.State);
            Assert.NotNull(row.OpenUntil);

            // The refusal says when the trial call goes through, so that the executor waits for it.
            // (The row keeps microseconds; the answer carries the circuit's own time.)
            Assert.NotNull(refused.RetryAt);
            Assert.InRange((refused.RetryAt.Value - row.OpenUntil.Value).Duration(), TimeSpan.Zero, TimeSpan.FromMilliseconds(1));
        }

        // After the break the circuit is half-open: one trial goes through and, succeeding, closes it.
        await Poll.UntilAsync(
            async () => await CircuitStateAsync(name, principal) == "HalfOpen",
            ToolGatewayFixture.CircuitBreakDuration + TimeSpan.FromSeconds(5),
            "the circuit to become half-open after the break");

        Volatile.Write(ref healthy, true);
        var trial = await gateway.InvokeAsync(ToolGatewayFixture.Call(principal, name));
        Assert.Equal(ToolCallOutcome.Succeeded, trial.Outcome);
        Assert.Equal(1, trial.Attempts);
        Assert.Equal(ToolGatewayFixture.CircuitFailureThreshold + 1, tool.Calls);
        Assert.Equal("Closed", await CircuitStateAsync(name, principal));

        await using (var db = gateway.CreateDbContext())
        {
            var row = await db.Circuits.AsNoTracking().SingleAsync(c => c.Tool == name);
            Assert.Equal(CircuitState.Closed, row.State);
            Assert.Equal(0, row.ConsecutiveFailures);
        }
    }

    [Fact]
    public async Task Timeouts_while_the_gateway_is_starved_leave_the_circuit_closed_and_the_same_timeouts_with_room_open_it()
    {
        var name = ToolGatewayFixture.UniqueToolName("sluggish");
        await gateway.AnnounceAsync(ToolGatewayFixture.Tool(name, timeoutSeconds: 2));
        var tool = await gateway.StartToolAsync(name, (_, _) => null);
        var principal = gateway.NewPrincipal();
        var lateness = gateway.Factory.Services.GetRequiredService<OwnLateness>();

        // A starved machine: every tenth of a second the gateway's probe woke a tenth of a second late (the probe's own
        // wake-ups go on being recorded beside these).
        using (var starving = new CancellationTokenSource())
        {
            var starve = Task.Run(async () =>
            {
                while (!starving.IsCancellationRequested)
                {
                    lateness.Record(lateness.Now(), TimeSpan.FromMilliseconds(100));
                    await Task.Delay(100, CancellationToken.None);
                }
            });
            var late = await gateway.InvokeAsync(ToolGatewayFixture.Call(principal, name));
            await starving.CancelAsync();
            await starve;

            Assert.Equal(ToolCallOutcome.TimedOut, late.Outcome);
            Assert.Equal(ToolGatewayFixture.CircuitFailureThreshold, late.Attempts);
            Assert.Contains("not counted against the tool's circuit", late.Error, StringComparison.Ordinal);
        }

        Assert.Equal(ToolGatewayFixture.CircuitFailureThreshold, tool.Calls);
        Assert.Equal("Closed", await CircuitStateAsync(name, principal));
        var scrape = await PrometheusText.ScrapeAsync(gateway.Client);
        Assert.Equal(ToolGatewayFixture.CircuitFailureThreshold, scrape.Sum("agents_tool_gateway_timeouts_not_counted_total", ("gen_ai_tool_name", name)));

        // With room on the machine the same timeouts are the tool's: as many as the threshold open the circuit.
        var roomStart = lateness.Now();
        var timedOut = await gateway.InvokeAsync(ToolGatewayFixture.Call(principal, name));
        var seen = $"{timedOut.Error} (the gateway's timers were {lateness.Since(roomStart).TotalSeconds:0.###} s behind in {TimeProvider.System.GetElapsedTime(roomStart).TotalSeconds:0.###} s)";
        Assert.Equal(ToolCallOutcome.TimedOut, timedOut.Outcome);
        Assert.False(timedOut.Error!.Contains("not counted", StringComparison.Ordinal), seen);
        Assert.Equal(2 * ToolGatewayFixture.CircuitFailureThreshold, tool.Calls);
        Assert.True("Open" == await CircuitStateAsync(name, principal), seen);
    }

    private async Task<string?> CircuitStateAsync(string name, AgentPrincipal principal)
    {
        using var response = await gateway.Client.SendAsync(gateway.Get("/api/tools/" + name, principal));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var tool = await response.Content.ReadFromJsonAsync<JsonElement>();
        return tool.GetProperty("circuit").GetProperty("state").GetString();
    }
}
