using System.Text;
using System.Text.Json;

namespace Agents.EndToEnd.Tests;

/// <summary>
/// The platform's metrics as an operator sees them: a real Prometheus scrapes every service of the running platform and
/// evaluates the platform's alert rules, and the figures are read back with PromQL. Tasks run in the tenant
/// <c>bench</c> (its policy written here), which no other test of this collection uses while this one runs, so the
/// task counters move by exactly what this test did.
/// </summary>
[Trait("Category", "EndToEnd")]
[Collection(PlatformCollection.Name)]
public sealed class PrometheusTests(PlatformFixture platform)
{
    private const string Policy = """
        {
          "enabled": true,
          "adminRole": "admin",
          "approverRoles": ["approver"],
          "roles": {
            "agent-user": { "tools": ["crm.lookup-customer", "web.fetch"], "scopes": ["crm.*", "web.*"] },
            "admin": { "tools": ["*"], "scopes": ["*"] }
          }
        }
        """;

    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Prometheus_scrapes_every_service_and_PromQL_shows_the_tasks_run_a_failed_tool_call_and_a_dead_letter()
    {
        var rules = Path.Combine(PlatformFixture.RepositoryRoot(), "infra", "observability", "prometheus", "alerts.yml");
        await using var prometheus = await PrometheusServer.StartAsync(platform.Processes.Values.Select(p => (p.Name, p.BaseAddress)), rules);

        // Every service's /metrics is scraped.
        var services = platform.Processes.Count;
        await prometheus.WaitForAsync("sum(up)", up => up >= services, Soon, $"not every one of the {services} services was scraped");
        var down = (await prometheus.QueryAsync("up == 0")).Select(s => s.Labels["job"]).ToList();
        Assert.True(down.Count == 0, $"Prometheus could not scrape: {string.Join(", ", down)}\n{prometheus.RecentOutput}");

        using var bench = platform.CreateClient(PlatformFixture.BenchKey);
        using (var written = await bench.PutAsync(new Uri("api/governance/policy", UriKind.Relative), new StringContent(Policy, Encoding.UTF8, "application/json")))
        {
            Assert.True(written.IsSuccessStatusCode, $"writing the bench tenant's policy: HTTP {(int)written.StatusCode} {await written.Content.ReadAsStringAsync()}");
        }

        // The completed-task counter moves by the tasks run, as do submissions and the CRM tool's successful calls.
        const string Completed = """sum(agents_task_finished_total{agents_tenant="bench",agents_task_template="lookup-and-summarize",agents_task_status="Completed"})""";
        const string Submitted = """sum(agents_task_submitted_total{agents_tenant="bench",agents_task_template="lookup-and-summarize"})""";
        const string CrmCalls = """sum(agents_tool_gateway_calls_total{gen_ai_tool_name="crm.lookup-customer",agents_tool_outcome="Succeeded"})""";
        var completedBefore = await prometheus.ValueAsync(Completed);
        var submittedBefore = await prometheus.ValueAsync(Submitted);
        var crmBefore = await prometheus.ValueAsync(CrmCalls);

        const int Tasks = 3;
        var ids = new List<Guid>();
        for (var i = 0; i < Tasks; i++)
        {
            ids.Add(await TaskClient.SubmitAsync(bench, new
            {
                template = "lookup-and-summarize",
                parameters = new Dictionary<string, string> { ["customerId"] = $"C-100{i + 1}", ["article"] = platform.KnowledgeBaseUrl("password-reset") },
            }));
        }

        foreach (var id in ids)
        {
            await TaskClient.WaitForStatusAsync(bench, id, "Completed");
        }

        var completed = await prometheus.WaitForAsync(Completed, v => v >= completedBefore + Tasks, Soon, "the completed-task counter");
        Assert.Equal(completedBefore + Tasks, completed);
        Assert.Equal(submittedBefore + Tasks, await prometheus.WaitForAsync(Submitted, v => v >= submittedBefore + Tasks, Soon, "the submitted-task counter"));
        await prometheus.WaitForAsync(CrmCalls, v => v >= crmBefore + Tasks, Soon, "the CRM tool's successful calls");
        await prometheus.WaitForAsync(
            """sum(agents_task_duration_seconds_count{agents_tenant="bench",agents_task_template="lookup-and-summarize",agents_task_status="Completed"})""",
            v => v >= completedBefore + Tasks, Soon, "the task duration histogram");

        // A tool call that fails (an address outside the web tool's allowlist) shows in the tool outcome series.
        const string FetchFailures = """sum(agents_tool_gateway_calls_total{gen_ai_tool_name="web.fetch",agents_tool_outcome="Failed"})""";
        var failuresBefore = await prometheus.ValueAsync(FetchFailures);
        var failing = await TaskClient.SubmitAsync(bench, new
        {
            steps = new[]
            {
                new { id = "fetch", kind = "tool", tool = "web.fetch", argumentsJson = JsonSerializer.Serialize(new { url = "http://127.0.0.1:9/not-on-the-allowlist" }), dependsOn = Array.Empty<string>() },
            },
        });
        await prometheus.WaitForAsync(FetchFailures, v => v >= failuresBefore + 1, Soon, $"the failed web.fetch call of task {failing}");

        // A poison message in the executor's queue shows as a message of its _error queue.
        var work = await prometheus.QueryAsync("""agents_messaging_queue_messages{agents_queue_kind="work"}""");
        var queue = work.Select(s => s.Labels["messaging_destination_name"]).Distinct()
            .Single(q => q.StartsWith(platform.QueuePrefix, StringComparison.Ordinal) && q.EndsWith("task-run-state", StringComparison.Ordinal));
        var deadLetters = $$"""sum(agents_messaging_queue_messages{agents_queue_kind="error",messaging_destination_name="{{queue}}"})""";
        var deadBefore = await prometheus.ValueAsync(deadLetters);
        await OperatorSurfaceTests.PublishPoisonAsync(queue, Guid.NewGuid().ToString());
        await prometheus.WaitForAsync(deadLetters, v => v >= deadBefore + 1, TimeSpan.FromSeconds(90), $"the dead letter in {queue}_error");

        // Every alert rule evaluates against the real series without an error.
        var loaded = await prometheus.RulesAsync();
        Assert.True(loaded.Count >= 10, $"only {loaded.Count} rules loaded from {rules}");
        var broken = loaded.Where(r => r.Health == "err").Select(r => $"{r.Name}: {r.Error}").ToList();
        Assert.True(broken.Count == 0, "rules that fail to evaluate: " + string.Join("; ", broken));
        Assert.DoesNotContain(loaded, r => r.Health == "unknown");
    }
}
