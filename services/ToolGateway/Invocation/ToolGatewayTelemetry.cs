using System.Diagnostics;
using System.Diagnostics.Metrics;
using Agents.Contracts;
using Agents.ToolGateway.Data;

namespace Agents.ToolGateway.Invocation;

/// <summary>
/// The <c>execute_tool {tool}</c> span (OpenTelemetry GenAI conventions) and the call metrics:
/// <c>agents.tool_gateway.calls</c>, <c>agents.tool_gateway.failures</c> (every outcome but
/// Succeeded) and <c>agents.tool_gateway.call.duration</c> (seconds), tagged with tool and outcome; and
/// <c>agents.tool.circuit.state</c> per tool (0 closed, 1 half-open, 2 open), read from the circuits when scraped; and
/// <c>agents.tool_gateway.timeouts_not_counted</c>: attempts that timed out while this gateway was starved
/// (<see cref="OwnLateness"/>), which the tool's circuit did not count.
/// </summary>
internal sealed class ToolGatewayTelemetry
{
    public const string Name = "Agents.ToolGateway";

    public static readonly ActivitySource Source = new(Name);

    private readonly Counter<long> calls;
    private readonly Counter<long> failures;
    private readonly Histogram<double> duration;
    private readonly Counter<long> timeoutsNotCounted;

    public ToolGatewayTelemetry(IMeterFactory meterFactory, ToolCircuitBreakers breakers)
    {
        var meter = meterFactory.Create(Name);
        calls = meter.CreateCounter<long>("agents.tool_gateway.calls", "{call}", "Tool calls handled, by tool and outcome.");
        failures = meter.CreateCounter<long>("agents.tool_gateway.failures", "{call}", "Tool calls that did not succeed, by tool and outcome.");
        duration = meter.CreateHistogram<double>("agents.tool_gateway.call.duration", "s", "Time from InvokeTool to ToolCallCompleted.");
        timeoutsNotCounted = meter.CreateCounter<long>(
            "agents.tool_gateway.timeouts_not_counted",
            "{attempt}",
            "Tool attempts that timed out while this gateway's own timers were behind for half of the attempt (a starved machine), not counted against the tool's circuit, by tool.");
        meter.CreateObservableGauge(
            "agents.tool.circuit.state",
            () => CircuitStates(breakers),
            "{state}",
            "State of each tool's circuit breaker in this instance: 0 closed, 1 half-open, 2 open.");
    }

    private static IEnumerable<Measurement<int>> CircuitStates(ToolCircuitBreakers breakers)
    {
        foreach (var (tool, state) in breakers.States())
        {
            var value = state switch
            {
                CircuitState.Open => 2,
                CircuitState.HalfOpen => 1,
                _ => 0,
            };
            yield return new Measurement<int>(value, new KeyValuePair<string, object?>("gen_ai.tool.name", tool));
        }
    }

    public static Activity? StartExecuteTool(string tool) =>
        Source.StartActivity("execute_tool " + tool, ActivityKind.Internal, default(ActivityContext), [
            new("gen_ai.operation.name", "execute_tool"),
            new("gen_ai.tool.name", tool),
        ]);

    public void TimeoutNotCounted(string tool) => timeoutsNotCounted.Add(1, new KeyValuePair<string, object?>("gen_ai.tool.name", tool));

    public void Completed(Activity? activity, ToolCallCompleted completed, Guid callId, bool replayed)
    {
        var outcome = completed.Outcome.ToString();
        if (activity is not null)
        {
            activity.SetTag("gen_ai.tool.call.id", callId.ToString());
            activity.SetTag("agents.tool.outcome", outcome);
            activity.SetTag("agents.tool.attempts", completed.Attempts);
            activity.SetTag("agents.tool.replayed", replayed);
            if (completed.Outcome != ToolCallOutcome.Succeeded)
            {
                activity.SetTag("error.type", outcome);
                activity.SetStatus(ActivityStatusCode.Error, completed.Error);
            }
        }

        var tags = new TagList { { "gen_ai.tool.name", completed.Tool }, { "agents.tool.outcome", outcome } };
        calls.Add(1, tags);
        if (completed.Outcome != ToolCallOutcome.Succeeded)
        {
            failures.Add(1, tags);
        }

        duration.Record(completed.DurationMs / 1000.0, tags);
    }
}
