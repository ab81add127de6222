using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Testing;

namespace Agents.Executor.Tests;

[Trait("Category", "Infrastructure")]
public sealed class TemplateVersionTests(ExecutorApiFixture fixture) : IClassFixture<ExecutorApiFixture>
{
    private const string TemplateName = "lookup-and-summarize";

    private static Uri Url(string path) => new(path, UriKind.Relative);

    [Fact]
    public async Task The_version_a_task_ran_is_in_its_log_and_the_figures_split_by_version_and_rollout_side()
    {
        var tenant = TestInfrastructure.UniqueName("tenant");
        using var admin = fixture.ClientFor(tenant, "admin-1", "admin");
        var stable = await SubmitAsync(admin);
        var candidate = await SubmitAsync(admin);
        var cancelled = await SubmitAsync(admin);
        var rejected = await SubmitAsync(admin);

        await PlanAsync(stable, 1, "stable", Model("hello", "Say hello"));
        await PlanAsync(candidate, 2, "candidate", Model("hello", "Say hello twice"));
        await PlanAsync(cancelled, 2, "candidate", new PlanStep("lookup", StepKind.Tool, "crm.lookup-customer", """{"customerId":"C-1"}""", null, []));
        await fixture.PublishAsync(new TaskRejected(rejected, "Tenant quota reached."));
        await ExecutorApiFixture.WaitForTaskAsync(admin, stable, Finished, "the stable one finished");
        await ExecutorApiFixture.WaitForTaskAsync(admin, candidate, Finished, "the candidate finished");
        await ExecutorApiFixture.WaitForTaskAsync(admin, cancelled, t => t["steps"]!.AsArray().Count == 1, "the lookup is running");
        (await admin.PostAsync(Url($"/api/tasks/{cancelled}/cancel"), null)).Dispose();
        await ExecutorApiFixture.WaitForTaskAsync(admin, cancelled, Finished, "cancelled");
        await ExecutorApiFixture.WaitForTaskAsync(admin, rejected, Finished, "rejected");

        // The log says which version ran and on which side of the rollout.
        var log = JsonNode.Parse(await admin.GetStringAsync(Url($"/api/tasks/{candidate}/log")))!;
        var planned = log["events"]!.AsArray().Single(e => e!["kind"]!.GetValue<string>() == "plan-created")!["data"]!;
        Assert.Equal((TemplateName, 2, "candidate"), (planned["template"]!.GetValue<string>(), planned["templateVersion"]!.GetValue<int>(), planned["rollout"]!.GetValue<string>()));

        // A replay plans with the version its original ran, and is not counted as traffic.
        using var replay = await admin.PostAsync(Url($"/api/tasks/{candidate}/replay"), null);
        Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        var replayId = (await replay.Content.ReadFromJsonAsync<JsonNode>())!["id"]!.GetValue<Guid>();
        var replayLog = JsonNode.Parse(await admin.GetStringAsync(Url($"/api/tasks/{replayId}/log")))!;
        Assert.Equal(2, replayLog["events"]![0]!["data"]!["templateVersion"]!.GetValue<int>());

        var report = JsonNode.Parse(await admin.GetStringAsync(Url($"/api/tasks/versions?template={TemplateName}")))!;
        var versions = report["versions"]!.AsArray().Select(v => v!).ToList();
        Assert.Equal(["1/stable", "2/candidate", "(none)/"], versions.Select(v => $"{v["version"]?.GetValue<int>().ToString() ?? "(none)"}/{v["rollout"]?.GetValue<string>()}"));
        var (one, two, unplanned) = (versions[0], versions[1], versions[2]);
        Assert.Equal((1, 1, 1, 1.0), (one["tasks"]!.GetValue<int>(), one["finished"]!.GetValue<int>(), one["completed"]!.GetValue<int>(), one["successRate"]!.GetValue<double>()));
        Assert.Equal((2, 2, 1, 0.5), (two["tasks"]!.GetValue<int>(), two["finished"]!.GetValue<int>(), two["completed"]!.GetValue<int>(), two["successRate"]!.GetValue<double>()));
        Assert.Equal(1, two["byStatus"]!["Cancelled"]!.GetValue<int>());
        Assert.True(one["tokensPerTask"]!.GetValue<double>() > 0);
        Assert.True(one["latencyP50Ms"]!.GetValue<double>() > 0);
        // Nearest rank: of one task both percentiles are its latency; of two, p50 is the shorter and p95 the longer.
        Assert.Equal(one["latencyP50Ms"]!.GetValue<double>(), one["latencyP95Ms"]!.GetValue<double>());
        Assert.True(two["latencyP50Ms"]!.GetValue<double>() < two["latencyP95Ms"]!.GetValue<double>(), two.ToJsonString());
        Assert.Equal(2, two["byStatus"]!.AsObject().Sum(s => s.Value!.GetValue<int>()));
        Assert.Equal(0.0, two["approvalRate"]!.GetValue<double>());
        Assert.Equal((1, 0.0), (unplanned["tasks"]!.GetValue<int>(), unplanned["successRate"]!.GetValue<double>()));

        // A window start with an offset other than UTC is the same instant.
        var since = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-1).ToOffset(TimeSpan.FromHours(2)).ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        var sinceReport = JsonNode.Parse(await admin.GetStringAsync(Url($"/api/tasks/versions?template={TemplateName}&since={since}")))!;
        Assert.Equal(3, sinceReport["versions"]!.AsArray().Count);

        // The task metrics split the same way.
        var inTenant = ("agents_tenant", tenant);
        var scrape = await PrometheusText.ScrapeUntilAsync(admin, s => s.Sum("agents_task_finished_total", inTenant) >= 4, TimeSpan.FromSeconds(10), "the four tasks counted");
        Assert.Equal(1, scrape.Sum("agents_task_finished_total", inTenant, ("agents_task_template_version", "1"), ("agents_task_rollout", "stable"), ("agents_task_status", "Completed")));
        Assert.Equal(1, scrape.Sum("agents_task_finished_total", inTenant, ("agents_task_template_version", "2"), ("agents_task_rollout", "candidate"), ("agents_task_status", "Completed")));
        Assert.Equal(1, scrape.Sum("agents_task_finished_total", inTenant, ("agents_task_template_version", "2"), ("agents_task_rollout", "candidate"), ("agents_task_status", "Cancelled")));

        // Someone who may see only their own tasks sees only their own figures.
        using var user = fixture.ClientFor(tenant, "user-2");
        var own = JsonNode.Parse(await user.GetStringAsync(Url($"/api/tasks/versions?template={TemplateName}")))!;
        Assert.Empty(own["versions"]!.AsArray());

        // Another tenant's admin sees none of them.
        using var stranger = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"), "admin-9", "admin");
        var theirs = JsonNode.Parse(await stranger.GetStringAsync(Url($"/api/tasks/versions?template={TemplateName}")))!;
        Assert.Empty(theirs["versions"]!.AsArray());
    }

    [Fact]
    public async Task Figures_without_a_template_name_are_a_validation_problem()
    {
        using var client = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"));

        using var response = await client.GetAsync(Url("/api/tasks/versions"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("name the workflow template", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static bool Finished(JsonNode task) => task["finishedAt"] is not null;

    private static Task<Guid> SubmitAsync(HttpClient client) =>
        ExecutorApiFixture.SubmitAsync(client, new { template = TemplateName, parameters = new Dictionary<string, string> { ["customerId"] = "C-1" } });

    private static PlanStep Model(string id, string prompt) => new(id, StepKind.Model, null, null, prompt, []);

    private Task PlanAsync(Guid task, int version, string rollout, PlanStep step) => fixture.PublishAsync(new PlanCreated(
        task,
        new Plan(Guid.NewGuid(), 1, "template", [step], $"Workflow template '{TemplateName}' version {version}.", TemplateName, version, rollout),
        new TaskAdmitted(task, new TaskLimits(), null)));
}
