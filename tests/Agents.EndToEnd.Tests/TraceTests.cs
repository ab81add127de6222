using Agents.Testing;

namespace Agents.EndToEnd.Tests;

[CollectionDefinition(Name)]
public sealed class TracedPlatformCollection : ICollectionFixture<TracedPlatformFixture>
{
    public const string Name = "traced-platform";
}

/// <summary>The platform with every service exporting its spans over OTLP to an in-test receiver.</summary>
public sealed class TracedPlatformFixture : PlatformFixture
{
    internal OtlpTraceReceiver Receiver { get; } = OtlpTraceReceiver.Start();

    protected override void Configure(string service, IDictionary<string, string> settings)
    {
        base.Configure(service, settings);
        settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = Receiver.Address.ToString().TrimEnd('/');
        settings["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        settings["OTEL_BSP_SCHEDULE_DELAY"] = "200";
        settings["OTEL_METRIC_EXPORT_INTERVAL"] = "600000";
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

/// <summary>The trace id a task shows is the trace of its whole run, through the outbox and RabbitMQ, in every service.</summary>
[Trait("Category", "EndToEnd")]
[Collection(TracedPlatformCollection.Name)]
public sealed class TraceTests(TracedPlatformFixture platform)
{
    [Fact]
    public async Task The_task_trace_id_finds_the_runs_spans_in_the_gateway_executor_planner_governance_tool_gateway_and_tools()
    {
        using var api = platform.CreateClient(PlatformFixture.AliceKey);
        // The triage task with a plain article: CRM lookup, knowledge-base fetch, a model step and a ticket, no approval.
        var taskId = await platform.SubmitTriageAsync(api, "C-1001", article: "password-reset");
        var task = await TaskClient.WaitForStatusAsync(api, taskId, "Completed");
        var traceId = task.GetProperty("traceId").GetString();
        Assert.Matches("^[0-9a-f]{32}$", traceId);

        string[] services = ["Agents.Gateway", "Agents.Executor", "Agents.Planner", "Agents.Governance", "Agents.ToolGateway", "Agents.Tools.Crm", "Agents.Tools.Web", "Agents.Tools.Tickets"];
        List<ReceivedSpan> spans = [];
        string Seen() => string.Join("; ", spans.GroupBy(s => s.Service).Select(g => $"{g.Key}: {string.Join(", ", g.Select(s => s.Name).Distinct().Take(12))}"));
        await Poll.UntilAsync(
            () =>
            {
                spans = platform.Receiver.Spans.Where(s => s.TraceId == traceId).ToList();
                return services.All(service => spans.Any(s => s.Service == service)) && spans.Any(s => s.Name == "invoke_workflow task-run");
            },
            () => $"a span of trace {traceId} from every service and the run's; the trace has {Seen()}",
            TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(250));

        var seen = string.Join("; ", spans.GroupBy(s => s.Service).Select(g => $"{g.Key}: {string.Join(", ", g.Select(s => s.Name).Distinct().Take(12))}"));
        Assert.All(services, service => Assert.True(spans.Any(s => s.Service == service), $"{service} sent no span of trace {traceId}; the trace has {seen}"));
        Assert.Contains(spans, s => s.Service == "Agents.Executor" && s.Name == "invoke_workflow task-run");

        // The span of the message that ended the run carries the run's quality signals: goal reached, steps, tool calls,
        // approvals, plan revisions, tokens and cost (the triage task: lookup, fetch, draft and ticket, no person).
        ReceivedSpan? end = null;
        await Poll.UntilAsync(
            () => (end = platform.Receiver.Spans.FirstOrDefault(s => s.TraceId == traceId && s.Attributes.ContainsKey("agents.task.goal_reached"))) is not null,
            TimeSpan.FromSeconds(60),
            $"a span of trace {traceId} that carries agents.task.goal_reached; the trace has {seen}",
            TimeSpan.FromMilliseconds(250));
        Assert.Equal("Agents.Executor", end!.Service);
        Assert.Equal("true", end.Attributes["agents.task.goal_reached"]);
        Assert.Equal("Completed", end.Attributes["agents.task.status"]);
        Assert.Equal("4", end.Attributes["agents.task.steps"]);
        // Three calls, or more when a busy machine made one of them retry.
        Assert.True(int.Parse(end.Attributes["agents.task.tool_calls"], System.Globalization.CultureInfo.InvariantCulture) >= 3);
        Assert.Equal("0", end.Attributes["agents.task.approvals"]);
        Assert.True(end.Attributes.ContainsKey("agents.task.plan_revisions"));
        Assert.True(int.Parse(end.Attributes["gen_ai.usage.output_tokens"], System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.True(double.Parse(end.Attributes["agents.cost"], System.Globalization.CultureInfo.InvariantCulture) > 0);

        // Another task is another trace.
        var other = await platform.SubmitTriageAsync(api, "C-1002", article: "password-reset");
        var otherTrace = (await TaskClient.WaitForStatusAsync(api, other, "Completed")).GetProperty("traceId").GetString();
        Assert.NotEqual(traceId, otherTrace);
    }
}
