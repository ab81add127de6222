using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.ServiceDefaults.Identity;
using Agents.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agents.Executor.Tests;

/// <summary>
/// The real executor host (its own database and queue prefix, the services around it played by
/// <see cref="StandInServices"/>) runs tasks, and its <c>/metrics</c> endpoint (Prometheus text) shows them with the
/// right values. A tenant of its own separates this test's series from those of tests running beside it.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class MetricsTests : IAsyncLifetime
{
    private readonly string _prefix = TestInfrastructure.UniqueName("exmetrics");
    private readonly string _tenant = TestInfrastructure.UniqueName("tenant-metrics");
    private TestDatabase? _database;
    private StandInServices? _standIns;
    private ServiceFactory<Program>? _executor;

    public async Task InitializeAsync()
    {
        _database = await TestInfrastructure.CreateDatabaseAsync("exmetrics");
        await using (var db = new Data.ExecutorDbContext(new DbContextOptionsBuilder<Data.ExecutorDbContext>().UseNpgsql(_database.ConnectionString).Options))
        {
            await db.Database.MigrateAsync();
        }

        _standIns = await StandInServices.StartAsync(TestInfrastructure.RabbitMq, _prefix);
        _executor = new ServiceFactory<Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = _database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = TestInfrastructure.RabbitMq,
            ["Messaging:QueuePrefix"] = _prefix,
            ["Identity:SigningKey"] = ExecutorApiFixture.SigningKey,
            ["Executor:MaxPlanRevisions"] = "0",
        });
    }

    public async Task DisposeAsync()
    {
        if (_executor is not null)
        {
            await _executor.DisposeAsync();
        }

        if (_standIns is not null)
        {
            await _standIns.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [Fact]
    public async Task Completed_and_failed_tasks_show_in_the_task_step_and_guardrail_series()
    {
        var standIns = _standIns!;
        standIns.HoldTool = call => call.Principal.TenantId == _tenant && call.StepId == "fetch";
        var signer = new PrincipalSigner(Options.Create(new IdentityOptions { SigningKey = ExecutorApiFixture.SigningKey }), TimeProvider.System);
        using var client = _executor!.CreateClient();
        await HealthAssertions.ReadyBecomesAsync(client, HttpStatusCode.OK, TimeSpan.FromSeconds(60));
        client.DefaultRequestHeaders.Add(PrincipalSigner.HeaderName, signer.Sign(new AgentPrincipal(_tenant, "user-1", ["agent-user"])));

        // One task whose two tool steps succeed, and one whose only tool call governance denies.
        var completed = await SubmitAsync(client, new
        {
            steps = new object[]
            {
                new { id = "lookup", kind = "tool", tool = "crm.lookup-customer", argumentsJson = """{"customerId":"C-1"}""", dependsOn = Array.Empty<string>() },
                new { id = "ticket", kind = "tool", tool = "tickets.create", argumentsJson = """{"subject":"x"}""", dependsOn = new[] { "lookup" } },
            },
        });
        var denied = await SubmitAsync(client, new
        {
            steps = new[] { new { id = "fetch", kind = "tool", tool = "web.fetch", argumentsJson = """{"url":"http://127.0.0.1/x"}""", dependsOn = Array.Empty<string>() } },
        });
        await CrashRecoveryTests.WaitForTaskAsync(client, completed, t => t["status"]!.GetValue<string>() == "Completed", "completed");
        var fetch = await standIns.WaitForInvocationAsync(denied, "fetch", TimeSpan.FromSeconds(30));
        await standIns.AnswerAsync(fetch, ToolCallOutcome.Denied, "not allowed by policy");
        await CrashRecoveryTests.WaitForTaskAsync(client, denied, t => t["status"]!.GetValue<string>() == "Failed", "failed on the denied call");

        var tenant = ("agents_tenant", _tenant);
        var steps = ("agents_task_template", "(steps)");
        var scrape = await PrometheusText.ScrapeUntilAsync(
            client, s => s.Sum("agents_task_finished_total", tenant) >= 2, TimeSpan.FromSeconds(10), "both tasks finished");

        Assert.Equal(2, scrape.Sum("agents_task_submitted_total", tenant, steps));
        Assert.Equal(1, scrape.Sum("agents_task_finished_total", tenant, steps, ("agents_task_status", "Completed")));
        Assert.Equal(1, scrape.Sum("agents_task_finished_total", tenant, steps, ("agents_task_status", "Failed")));
        Assert.Equal(2, scrape.Sum("agents_task_duration_seconds_count", tenant));
        Assert.Equal(2, scrape.Sum("agents_task_steps_sum", tenant, ("agents_task_status", "Completed")));
        Assert.Equal(1, scrape.Sum("agents_task_steps_sum", tenant, ("agents_task_status", "Failed")));
        Assert.Equal(1, scrape.Sum("agents_guardrail_hits_total", tenant, ("agents_guardrail", "tool_denied")));
        Assert.Equal(2, scrape.Sum("agents_task_cost_count", tenant));

        // Step latency by kind, tool and outcome (tool names are shared with other tests: at least this test's steps).
        Assert.True(scrape.Sum("agents_step_duration_seconds_count", ("agents_step_kind", "tool"), ("gen_ai_tool_name", "tickets.create"), ("agents_step_outcome", "succeeded")) >= 1);
        Assert.True(scrape.Sum("agents_step_duration_seconds_count", ("gen_ai_tool_name", "web.fetch"), ("agents_step_outcome", "failed")) >= 1);

        // The ASP.NET Core request metrics the platform-health dashboard reads are exported next to the platform's own.
        // (At least: hosts of other tests in this process may be counted too, as the listener sees every meter.)
        Assert.True(scrape.Sum("http_server_request_duration_seconds_count", ("http_request_method", "POST"), ("http_route", "/api/tasks/"), ("http_response_status_code", "202")) >= 2);

        // The outbox backlog gauge is measured by the durable-messaging library in every service with a database.
        Assert.True(scrape.Has("agents_messaging_outbox_backlog"), "the outbox backlog gauge is exported");
    }

    private static async Task<Guid> SubmitAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync(new Uri("/api/tasks", UriKind.Relative), body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<Guid>();
    }
}
