using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.ServiceDefaults;
using Agents.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Executor.Tests;

[Trait("Category", "Infrastructure")]
public sealed class TaskApiTests(ExecutorApiFixture fixture) : IClassFixture<ExecutorApiFixture>
{
    private static string Tenant() => TestInfrastructure.UniqueName("tenant");

    private static Uri Url(string path) => new(path, UriKind.Relative);

    [Fact]
    public async Task Submit_answers_202_with_location_and_the_task_and_its_log_are_readable()
    {
        using var client = fixture.ClientFor(Tenant());
        using var response = await client.PostAsync(Url("/api/tasks"), Json("""{"goal":"Find the customer's last order"}"""));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var id = body["id"]!.GetValue<Guid>();
        Assert.Equal("Submitted", body["status"]!.GetValue<string>());
        Assert.Equal($"/api/tasks/{id}", response.Headers.Location!.ToString());

        var task = await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["events"]!.GetValue<long>() >= 1, "the saga logged the submission");
        Assert.Equal("Find the customer's last order", task["goal"]!.GetValue<string>());
        var log = JsonNode.Parse(await client.GetStringAsync(Url($"/api/tasks/{id}/log")))!;
        Assert.Equal("submitted", log["events"]![0]!["kind"]!.GetValue<string>());
        Assert.Equal(1, log["events"]![0]!["sequence"]!.GetValue<long>());
    }

    [Fact]
    public async Task The_task_and_the_task_list_show_the_trace_id_of_the_submission()
    {
        using var client = fixture.ClientFor(Tenant());
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/tasks")) { Content = Json("""{"goal":"Trace me"}""") };
        request.Headers.Add("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<Guid>();

        var task = JsonNode.Parse(await client.GetStringAsync(Url($"/api/tasks/{id}")))!;
        Assert.Equal(traceId, task["traceId"]!.GetValue<string>());
        var listed = JsonNode.Parse(await client.GetStringAsync(Url("/api/tasks")))!["items"]!.AsArray();
        Assert.Equal(traceId, Assert.Single(listed)!["traceId"]!.GetValue<string>());

        // Another submission is another trace.
        var other = await ExecutorApiFixture.SubmitAsync(client, new { goal = "Another" });
        var otherTrace = JsonNode.Parse(await client.GetStringAsync(Url($"/api/tasks/{other}")))!["traceId"]!.GetValue<string>();
        Assert.Matches("^[0-9a-f]{32}$", otherTrace);
        Assert.NotEqual(traceId, otherTrace);
    }

    [Theory]
    [InlineData("{}", "request")]
    [InlineData("""{"goal":"a","template":"triage-customer-issue"}""", "request")]
    [InlineData("""{"goal":"   "}""", "goal")]
    [InlineData("""{"goal":"a","limits":{"maxSteps":-1}}""", "limits.maxSteps")]
    [InlineData("""{"goal":"a","limits":{"maxCost":-0.5}}""", "limits.maxCost")]
    [InlineData("""{"goal":"a","limits":{"maxIdenticalCalls":0}}""", "limits.maxIdenticalCalls")]
    [InlineData("""{"template":"bad name!"}""", "template")]
    [InlineData("""{"steps":[{"id":"a","kind":"tool","tool":"crm.lookup-customer","dependsOn":["zzz"]}]}""", "steps[0].dependsOn")]
    [InlineData("""{"steps":[{"id":"a","kind":"model","dependsOn":[]}]}""", "steps[0].prompt")]
    [InlineData("""{"steps":[{"id":"a","kind":"tool","tool":"crm.lookup-customer","argumentsJson":"[1]","dependsOn":[]}]}""", "steps[0].argumentsJson")]
    [InlineData("""{"goal":"a","allowedTools":["Not A Tool"]}""", "allowedTools[0]")]
    [InlineData("""{"goal":""", "body")]
    [InlineData("""{"goal":"a","steps":"not-a-list"}""", "body")]
    public async Task Invalid_requests_get_validation_problem_details_naming_the_field(string body, string field)
    {
        using var client = fixture.ClientFor(Tenant());
        using var response = await client.PostAsync(Url("/api/tasks"), Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(ProblemTypes.Validation, problem["type"]!.GetValue<string>());
        Assert.NotNull(problem["errors"]![field]);
        var list = JsonNode.Parse(await client.GetStringAsync(Url("/api/tasks")))!;
        Assert.Equal(0, list["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task Steps_naming_a_tool_that_no_role_of_the_caller_allows_are_refused_with_403_naming_the_step()
    {
        var tenant = Tenant();
        using var viewer = fixture.ClientFor(tenant, "viewer-1", "viewer");
        const string steps = """
            {"steps":[
              {"id":"draft","kind":"model","prompt":"Say hello."},
              {"id":"lookup","kind":"tool","tool":"crm.lookup-customer","argumentsJson":"{\"customerId\":\"C-1001\"}"}]}
            """;
        using var refused = await viewer.PostAsync(Url("/api/tasks"), Json(steps));

        var text = await refused.Content.ReadAsStringAsync();
        Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, $"{(int)refused.StatusCode}: {text}");
        var problem = JsonNode.Parse(text)!;
        Assert.Equal(ProblemTypes.Forbidden, problem["type"]!.GetValue<string>());
        Assert.Contains("crm.lookup-customer", problem["errors"]!["steps[1].tool"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(problem["errors"]!["steps[0].tool"]);
        var list = JsonNode.Parse(await viewer.GetStringAsync(Url("/api/tasks")))!;
        Assert.Empty(list["items"]!.AsArray());

        // Model steps need no tool grant, and a role that allows the tool gets its task queued.
        using var modelOnly = await viewer.PostAsync(Url("/api/tasks"), Json("""{"steps":[{"id":"draft","kind":"model","prompt":"Say hello."}]}"""));
        Assert.Equal(HttpStatusCode.Accepted, modelOnly.StatusCode);
        using var user = fixture.ClientFor(tenant, "user-1", "agent-user");
        using var accepted = await user.PostAsync(Url("/api/tasks"), Json(steps));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }

    [Fact]
    public async Task Oversized_goal_and_oversized_body_are_refused()
    {
        using var client = fixture.ClientFor(Tenant());
        using var longGoal = await client.PostAsync(Url("/api/tasks"), Json($$"""{"goal":"{{new string('g', 4001)}}"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, longGoal.StatusCode);
        Assert.Contains("4000", await longGoal.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var huge = await client.PostAsync(Url("/api/tasks"), Json("{\"goal\":\"x\",\"parameters\":{\"p\":\"" + new string('p', 300_000) + "\"}}"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        Assert.Equal(ProblemTypes.PayloadTooLarge, JsonNode.Parse(await huge.Content.ReadAsStringAsync())!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Requests_without_a_signed_principal_are_unauthenticated()
    {
        using var client = fixture.Factory.CreateClient();
        using var response = await client.PostAsync(Url("/api/tasks"), Json("""{"goal":"a"}"""));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(ProblemTypes.Unauthenticated, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Idempotency_key_returns_the_same_task_per_tenant_and_user()
    {
        var tenant = Tenant();
        using var client = fixture.ClientFor(tenant, "user-1");
        using var other = fixture.ClientFor(tenant, "user-2");

        var first = await ExecutorApiFixture.SubmitAsync(client, new { goal = "Open a ticket" }, "key-1");
        using var retry = await Post(client, """{"goal":"Open a ticket"}""", "key-1");
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(first, JsonNode.Parse(await retry.Content.ReadAsStringAsync())!["id"]!.GetValue<Guid>());
        Assert.Equal($"/api/tasks/{first}", retry.Headers.Location!.ToString());

        var otherUsers = await ExecutorApiFixture.SubmitAsync(other, new { goal = "Open a ticket" }, "key-1");
        Assert.NotEqual(first, otherUsers);

        using var different = await Post(client, """{"goal":"Something else"}""", "key-1");
        Assert.Equal(HttpStatusCode.Conflict, different.StatusCode);
        Assert.Equal(ProblemTypes.Conflict, JsonNode.Parse(await different.Content.ReadAsStringAsync())!["type"]!.GetValue<string>());

        var list = JsonNode.Parse(await client.GetStringAsync(Url("/api/tasks")))!;
        Assert.Equal(1, list["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_task_is_seen_and_cancelled_by_its_owner_the_approvers_and_the_admins_and_by_no_one_else()
    {
        var tenant = Tenant();
        using var owner = fixture.ClientFor(tenant, "owner");
        using var colleague = fixture.ClientFor(tenant, "colleague");
        using var approver = fixture.ClientFor(tenant, "approver-1", "agent-user", "approver");
        using var admin = fixture.ClientFor(tenant, "admin-1", "admin");
        using var otherTenantsAdmin = fixture.ClientFor(Tenant(), "admin-2", "admin");
        var id = await ExecutorApiFixture.SubmitAsync(owner, new { goal = "Owner's work" });
        var colleagues = await ExecutorApiFixture.SubmitAsync(colleague, new { goal = "Colleague's work" });
        await ExecutorApiFixture.WaitForTaskAsync(owner, id, t => t["events"]!.GetValue<long>() >= 1, "submitted");

        // Another user of the tenant is told the task does not exist, on every route; they see only their own tasks.
        foreach (var outsider in new[] { colleague, otherTenantsAdmin })
        {
            foreach (var path in new[] { $"/api/tasks/{id}", $"/api/tasks/{id}/log", $"/api/tasks/{id}/events" })
            {
                using var response = await outsider.GetAsync(Url(path));
                Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
                var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                Assert.Equal(ProblemTypes.NotFound, problem["type"]!.GetValue<string>());
                Assert.DoesNotContain("owner", problem.ToJsonString(), StringComparison.Ordinal);
            }

            using var cancel = await outsider.PostAsync(Url($"/api/tasks/{id}/cancel"), null);
            Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
        }

        Assert.Equal([colleagues], ListIds(await colleague.GetStringAsync(Url("/api/tasks"))));
        Assert.Empty(ListIds(await otherTenantsAdmin.GetStringAsync(Url("/api/tasks"))));

        // The owner, an approver and an admin read it, its log and its stream, and list the tenant's tasks.
        foreach (var reader in new[] { owner, approver, admin })
        {
            Assert.Equal(id, JsonNode.Parse(await reader.GetStringAsync(Url($"/api/tasks/{id}")))!["id"]!.GetValue<Guid>());
            Assert.Equal("submitted", JsonNode.Parse(await reader.GetStringAsync(Url($"/api/tasks/{id}/log")))!["events"]![0]!["kind"]!.GetValue<string>());
            using var stream = new HttpRequestMessage(HttpMethod.Get, Url($"/api/tasks/{id}/events"));
            using var streaming = await reader.SendAsync(stream, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, streaming.StatusCode);
            Assert.Equal("text/event-stream", streaming.Content.Headers.ContentType!.MediaType);
        }

        Assert.Equal([id], ListIds(await owner.GetStringAsync(Url("/api/tasks"))));
        Assert.Equal(new[] { id, colleagues }.Order(), ListIds(await approver.GetStringAsync(Url("/api/tasks"))).Order());
        Assert.Equal(new[] { id, colleagues }.Order(), ListIds(await admin.GetStringAsync(Url("/api/tasks"))).Order());

        // The colleague's refused cancel changed nothing; an approver's cancels the task, and an admin's is accepted too.
        Assert.Equal("Submitted", JsonNode.Parse(await owner.GetStringAsync(Url($"/api/tasks/{id}")))!["status"]!.GetValue<string>());
        using (var cancel = await approver.PostAsync(Url($"/api/tasks/{id}/cancel"), null))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }

        await ExecutorApiFixture.WaitForTaskAsync(owner, id, t => t["status"]!.GetValue<string>() == "Cancelled", "cancelled by an approver");
        using (var cancel = await admin.PostAsync(Url($"/api/tasks/{colleagues}/cancel"), null))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }

        await ExecutorApiFixture.WaitForTaskAsync(colleague, colleagues, t => t["status"]!.GetValue<string>() == "Cancelled", "cancelled by an admin");
    }

    private static Guid[] ListIds(string page) =>
        JsonNode.Parse(page)!["items"]!.AsArray().Select(x => x!["id"]!.GetValue<Guid>()).ToArray();

    [Fact]
    public async Task Another_tenants_task_is_not_found_for_read_log_stream_and_cancel()
    {
        using var owner = fixture.ClientFor(Tenant());
        using var stranger = fixture.ClientFor(Tenant());
        var id = await ExecutorApiFixture.SubmitAsync(owner, new { goal = "Private work" });

        foreach (var path in new[] { $"/api/tasks/{id}", $"/api/tasks/{id}/log", $"/api/tasks/{id}/events" })
        {
            using var response = await stranger.GetAsync(Url(path));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal(ProblemTypes.NotFound, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["type"]!.GetValue<string>());
        }

        using var cancel = await stranger.PostAsync(Url($"/api/tasks/{id}/cancel"), null);
        Assert.Equal(HttpStatusCode.NotFound, cancel.StatusCode);
        var list = JsonNode.Parse(await stranger.GetStringAsync(Url("/api/tasks")))!;
        Assert.Equal(0, list["total"]!.GetValue<int>());
        Assert.Equal("Submitted", JsonNode.Parse(await owner.GetStringAsync(Url($"/api/tasks/{id}")))!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task List_is_paged_newest_first_and_filters_by_status()
    {
        using var client = fixture.ClientFor(Tenant());
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await ExecutorApiFixture.SubmitAsync(client, new { goal = $"Task {i}" }));
        }

        var page1 = JsonNode.Parse(await client.GetStringAsync(Url("/api/tasks?page=1&pageSize=2")))!;
        Assert.Equal(5, page1["total"]!.GetValue<int>());
        Assert.Equal([ids[4], ids[3]], page1["items"]!.AsArray().Select(x => x!["id"]!.GetValue<Guid>()).ToArray());
        var page3 = JsonNode.Parse(await client.GetStringAsync(Url("/api/tasks?page=3&pageSize=2")))!;
        Assert.Equal([ids[0]], page3["items"]!.AsArray().Select(x => x!["id"]!.GetValue<Guid>()).ToArray());

        await ExecutorApiFixture.WaitForTaskAsync(client, ids[2], t => t["events"]!.GetValue<long>() >= 1, "submitted");
        using (var cancel = await client.PostAsync(Url($"/api/tasks/{ids[2]}/cancel"), null))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }

        await ExecutorApiFixture.WaitForTaskAsync(client, ids[2], t => t["status"]!.GetValue<string>() == "Cancelled", "cancelled");
        var cancelled = JsonNode.Parse(await client.GetStringAsync(Url("/api/tasks?status=cancelled")))!;
        Assert.Equal([ids[2]], cancelled["items"]!.AsArray().Select(x => x!["id"]!.GetValue<Guid>()).ToArray());

        using var bad = await client.GetAsync(Url("/api/tasks?status=Sleeping&pageSize=1000"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = JsonNode.Parse(await bad.Content.ReadAsStringAsync())!;
        Assert.NotNull(problem["errors"]!["status"]);
        Assert.NotNull(problem["errors"]!["pageSize"]);
    }

    [Fact]
    public async Task Cancel_is_idempotent_and_the_event_stream_replays_the_log_and_ends_with_the_task()
    {
        using var client = fixture.ClientFor(Tenant());
        var id = await ExecutorApiFixture.SubmitAsync(client, new { goal = "Stream me" });
        await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["events"]!.GetValue<long>() >= 1, "submitted");

        // The stream stays open while the task runs and ends when it is cancelled: its first entry is read from the open
        // stream before the cancellation exists, and the same stream then carries the cancellation to its end (a stream
        // that ended with the replayed log would not).
        using var open = await client.GetAsync(Url($"/api/tasks/{id}/events"), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await open.Content.ReadAsStreamAsync());
        var stream = new StringBuilder();
        var sawEntry = false;
        while (await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20)) is { } line)
        {
            stream.Append(line).Append('\n');
            sawEntry |= line.StartsWith("id: ", StringComparison.Ordinal);
            if (sawEntry && line.Length == 0)
            {
                break;
            }
        }

        Assert.True(sawEntry, $"the stream ended before its first entry: {stream}");
        using (var cancel = await client.PostAsync(Url($"/api/tasks/{id}/cancel"), null))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }

        stream.Append(await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        var events = ParseEvents(stream.ToString());
        Assert.Equal("submitted", events[0].Kind);
        Assert.Equal("finished", events[^1].Kind);
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Id));
        Assert.Contains("\"Cancelled\"", events[^1].Data, StringComparison.Ordinal);

        var resumed = ParseEvents(await client.GetStringAsync(Url($"/api/tasks/{id}/events?lastEventId=1")));
        using var request = new HttpRequestMessage(HttpMethod.Get, Url($"/api/tasks/{id}/events"));
        request.Headers.Add("Last-Event-ID", "1");
        using var resumedByHeader = await client.SendAsync(request);
        Assert.Equal("text/event-stream", resumedByHeader.Content.Headers.ContentType!.MediaType);
        Assert.Equal(2, resumed[0].Id);
        Assert.Equal(2, ParseEvents(await resumedByHeader.Content.ReadAsStringAsync())[0].Id);

        using var again = await client.PostAsync(Url($"/api/tasks/{id}/cancel"), null);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        var task = JsonNode.Parse(await client.GetStringAsync(Url($"/api/tasks/{id}")))!;
        Assert.Equal("Cancelled", task["status"]!.GetValue<string>());
        Assert.NotNull(task["finishedAt"]);
    }

    [Fact]
    public async Task A_run_driven_over_the_bus_completes_with_its_model_step_logged_and_cannot_be_cancelled_afterwards()
    {
        using var client = fixture.ClientFor(Tenant());
        var id = await ExecutorApiFixture.SubmitAsync(client, new
        {
            steps = new[] { new { id = "hello", kind = "model", prompt = "Say hello to {{params.name}}", dependsOn = Array.Empty<string>() } },
            parameters = new Dictionary<string, string> { ["name"] = "Ada" },
            limits = new { maxTokens = 10_000 },
        });
        await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["events"]!.GetValue<long>() >= 1, "submitted");

        // Play governance's admission, answered rather than passed on: the executor then asks the planner (double) itself.
        await fixture.PublishAsync(new TaskAdmitted(id, new TaskLimits(MaxTokens: 10_000), null));

        var task = await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["status"]!.GetValue<string>() == "Completed", "completed");
        Assert.Contains("Request: Say hello to Ada", task["result"]!["hello"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("Succeeded", task["steps"]![0]!["status"]!.GetValue<string>());
        Assert.True(task["usage"]!["outputTokens"]!.GetValue<int>() > 0);
        Assert.Equal(1, task["plan"]!["version"]!.GetValue<int>());
        Assert.Equal(10_000, task["limits"]!["maxTokens"]!.GetValue<int>());

        var log = JsonNode.Parse(await client.GetStringAsync(Url($"/api/tasks/{id}/log")))!["events"]!.AsArray();
        var modelCall = log.Single(e => e!["kind"]!.GetValue<string>() == "model-call")!;
        Assert.Equal("Say hello to Ada", modelCall["data"]!["prompt"]!.GetValue<string>());
        Assert.Equal("deterministic", modelCall["data"]!["model"]!.GetValue<string>());

        // Cost from the models library's usage, priced at 1000 per million tokens in and out (fixture settings).
        var tokens = modelCall["data"]!["inputTokens"]!.GetValue<long>() + modelCall["data"]!["outputTokens"]!.GetValue<long>();
        Assert.True(tokens > 0);
        Assert.Equal(tokens * 1000m / 1_000_000m, modelCall["data"]!["cost"]!.GetValue<decimal>());
        Assert.Equal(modelCall["data"]!["cost"]!.GetValue<decimal>(), task["usage"]!["cost"]!.GetValue<decimal>());
        Assert.Contains(log, e => e!["kind"]!.GetValue<string>() == "transition" && e["data"]!["to"]!.GetValue<string>() == "Running");

        using var cancel = await client.PostAsync(Url($"/api/tasks/{id}/cancel"), null);
        Assert.Equal(HttpStatusCode.Conflict, cancel.StatusCode);
    }

    [Fact]
    public async Task The_task_row_changes_with_the_runs_state_only_and_the_api_reads_the_run_from_the_saga()
    {
        using var client = fixture.ClientFor(Tenant());
        var id = await ExecutorApiFixture.SubmitAsync(client, new
        {
            steps = new[] { new { id = "hello", kind = "model", prompt = "Say hello", dependsOn = Array.Empty<string>() } },
        });

        // A plan that comes before admission (as from a planner asked by an executor of an earlier version): the run
        // logs the plan, but its state (Submitted) does not change, so neither does the task row: it still ends at the
        // submission's entries, while the API shows the plan and every entry.
        await fixture.PublishAsync(new PlanCreated(id, new Plan(Guid.NewGuid(), 1, "steps", [new PlanStep("hello", StepKind.Model, null, null, "Say hello", [])])));
        var planned = await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["plan"] is JsonObject, "planned");
        Assert.Equal("Submitted", planned["status"]!.GetValue<string>());
        Assert.True(planned["events"]!.GetValue<long>() >= 2, planned.ToJsonString());
        var (status, lastSequence) = await TaskRowAsync(id);
        Assert.Equal("Submitted", status);
        Assert.True(lastSequence < planned["events"]!.GetValue<long>(), $"the task row followed the plan's log entry ({lastSequence})");

        await fixture.PublishAsync(new TaskAdmitted(id, new TaskLimits(MaxTokens: 10_000), null));
        var done = await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["status"]!.GetValue<string>() == "Completed", "completed");

        // At the end the row caught up with the run: the list shows it completed, and the event stream ends after its last entry.
        (status, lastSequence) = await TaskRowAsync(id);
        Assert.Equal("Completed", status);
        Assert.Equal(done["events"]!.GetValue<long>(), lastSequence);
        Assert.Equal("Succeeded", done["steps"]![0]!["status"]!.GetValue<string>());
    }

    private async Task<(string Status, long LastSequence)> TaskRowAsync(Guid id)
    {
        await using var connection = new Npgsql.NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT status, last_sequence FROM tasks WHERE id = $1", connection);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetString(0), reader.GetInt64(1));
    }

    [Fact]
    public async Task An_unknown_template_is_accepted_and_then_rejected_with_the_planners_reason()
    {
        var tenant = Tenant();
        using var client = fixture.ClientFor(tenant);

        // Submission waits on no other service: the planner refuses the template when it plans it (after admission,
        // played here by an admission answered rather than passed on, so the executor asks the planner double itself).
        var id = await ExecutorApiFixture.SubmitAsync(client, new { template = "no-such-template", parameters = new Dictionary<string, string> { ["customerId"] = "C-1" } });
        await fixture.PublishAsync(new TaskAdmitted(id, new TaskLimits(), null));

        var task = await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["status"]!.GetValue<string>() == "Rejected", "the task rejected");
        Assert.Equal("The planner refused the task: unknown template 'no-such-template'", task["reason"]!.GetValue<string>());
        var log = JsonNode.Parse(await client.GetStringAsync(Url($"/api/tasks/{id}/log")))!["events"]!.AsArray();
        Assert.Contains(log, e => e!["kind"]!.GetValue<string>() == "plan-rejected");
        Assert.Equal("finished", log[^1]!["kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task Steps_with_an_unknown_tool_are_rejected_and_a_known_template_is_planned()
    {
        var tenant = Tenant();
        using var client = fixture.ClientFor(tenant);

        var refused = await ExecutorApiFixture.SubmitAsync(client, JsonNode.Parse("""
            {"steps":[{"id":"lookup","kind":"tool","tool":"crm.lookup-customer","argumentsJson":"{}"},
                      {"id":"launch","kind":"tool","tool":"rockets.launch","argumentsJson":"{}","dependsOn":["lookup"]}]}
            """)!);
        var known = await ExecutorApiFixture.SubmitAsync(client, new { template = "triage-customer-issue", parameters = new Dictionary<string, string> { ["customerId"] = "C-1" } });
        await fixture.PublishAsync(new TaskAdmitted(refused, new TaskLimits(), null));
        await fixture.PublishAsync(new TaskAdmitted(known, new TaskLimits(), null));

        var rejected = await ExecutorApiFixture.WaitForTaskAsync(client, refused, t => t["status"]!.GetValue<string>() == "Rejected", "the steps rejected");
        Assert.Contains("step 'launch': unknown tool 'rockets.launch'", rejected["reason"]!.GetValue<string>(), StringComparison.Ordinal);

        // This fixture has no tool-gateway: the planned task runs and waits for its first tool call.
        var planned = await ExecutorApiFixture.WaitForTaskAsync(client, known, t => t["plan"] is JsonObject, "the template planned");
        Assert.Equal("Running", planned["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_task_is_accepted_while_no_planner_answers_and_waits_instead_of_failing()
    {
        // Another executor on the same database whose queue prefix no planner (double) listens on.
        var settings = new Dictionary<string, string?>(fixture.Settings)
        {
            ["Messaging:QueuePrefix"] = TestInfrastructure.UniqueName("exnoplanner"),
        };
        await using var lonely = new ServiceFactory<Program>(settings);
        using var client = lonely.CreateClient();
        client.DefaultRequestHeaders.Add(Agents.ServiceDefaults.Identity.PrincipalSigner.HeaderName, fixture.Signer.Sign(new AgentPrincipal(Tenant(), "user-1", ["agent-user"])));

        using var response = await client.PostAsync(Url("/api/tasks"), Json("""{"template":"triage-customer-issue","parameters":{"customerId":"C-1"}}"""));

        // Load is waited out, never turned into an answer: accepted, and the task waits for the planner and governance.
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<Guid>();
        var task = await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["events"]!.GetValue<long>() >= 1, "the submission logged");
        Assert.Equal("Submitted", task["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_event_stream_is_woken_by_the_tasks_change_not_by_polling()
    {
        // An executor that would poll only every 30 s: the stream must still deliver the change at once.
        var settings = new Dictionary<string, string?>(fixture.Settings)
        {
            ["Messaging:QueuePrefix"] = TestInfrastructure.UniqueName("expush"),
            ["Executor:EventStreamPollInterval"] = "00:00:30",
        };
        await using var slow = new ServiceFactory<Program>(settings);
        using var client = slow.CreateClient();
        client.DefaultRequestHeaders.Add(Agents.ServiceDefaults.Identity.PrincipalSigner.HeaderName, fixture.Signer.Sign(new AgentPrincipal(Tenant(), "user-1", ["agent-user"])));
        await HealthAssertions.ReadyBecomesAsync(client, HttpStatusCode.OK, TimeSpan.FromSeconds(30));
        var id = await ExecutorApiFixture.SubmitAsync(client, new { goal = "Wake me" });
        await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["events"]!.GetValue<long>() >= 1, "submitted");
        using var reading = new HttpRequestMessage(HttpMethod.Get, Url($"/api/tasks/{id}/events"));
        using var stream = await client.SendAsync(reading, HttpCompletionOption.ResponseHeadersRead);
        var body = stream.Content.ReadAsStringAsync();

        using (var cancel = await client.PostAsync(Url($"/api/tasks/{id}/cancel"), null))
        {
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        }

        var events = ParseEvents(await body.WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.Equal("finished", events[^1].Kind);
    }

    [Fact]
    public async Task List_filters_by_user_template_and_submission_time_and_names_each_tasks_user()
    {
        var tenant = Tenant();
        using var alice = fixture.ClientFor(tenant, "alice");
        using var bob = fixture.ClientFor(tenant, "bob");
        using var admin = fixture.ClientFor(tenant, "admin-1", "admin");
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var alicesGoal = await ExecutorApiFixture.SubmitAsync(alice, new { goal = "Alice's goal" });
        var alicesTemplate = await ExecutorApiFixture.SubmitAsync(alice, new { template = "lookup-and-summarize", parameters = new { customerId = "C-1" } });
        var bobsGoal = await ExecutorApiFixture.SubmitAsync(bob, new { goal = "Bob's goal" });
        var after = DateTimeOffset.UtcNow.AddSeconds(1);
        static string Q(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O", System.Globalization.CultureInfo.InvariantCulture));

        var byUser = JsonNode.Parse(await admin.GetStringAsync(Url("/api/tasks?user=alice")))!;
        Assert.Equal([alicesTemplate, alicesGoal], ListIds(byUser.ToJsonString()));
        Assert.All(byUser["items"]!.AsArray(), x => Assert.Equal("alice", x!["userId"]!.GetValue<string>()));
        Assert.Equal([alicesTemplate], ListIds(await admin.GetStringAsync(Url("/api/tasks?template=lookup-and-summarize"))));
        Assert.Equal([bobsGoal, alicesTemplate, alicesGoal], ListIds(await admin.GetStringAsync(Url($"/api/tasks?from={Q(before)}&to={Q(after)}"))));
        Assert.Empty(ListIds(await admin.GetStringAsync(Url($"/api/tasks?from={Q(after)}"))));
        Assert.Empty(ListIds(await admin.GetStringAsync(Url($"/api/tasks?to={Q(before)}"))));

        // A user's filter narrows what they may see; it never widens it to someone else's tasks.
        Assert.Empty(ListIds(await bob.GetStringAsync(Url("/api/tasks?user=alice"))));

        using var reversed = await admin.GetAsync(Url($"/api/tasks?from={Q(after)}&to={Q(before)}"));
        Assert.Equal(HttpStatusCode.BadRequest, reversed.StatusCode);
        Assert.NotNull(JsonNode.Parse(await reversed.Content.ReadAsStringAsync())!["errors"]!["to"]);
        using var notATime = await admin.GetAsync(Url("/api/tasks?from=yesterday"));
        Assert.Equal(HttpStatusCode.BadRequest, notATime.StatusCode);
    }

    [Fact]
    public async Task The_list_is_304_while_it_is_what_the_caller_has_and_a_waiting_request_answers_when_a_task_arrives()
    {
        using var client = fixture.ClientFor(Tenant());
        using var empty = await client.GetAsync(Url("/api/tasks"));
        var etag = empty.Headers.ETag;
        Assert.NotNull(etag);

        using var unchanged = new HttpRequestMessage(HttpMethod.Get, "/api/tasks");
        unchanged.Headers.IfNoneMatch.Add(etag);
        using (var response = await client.SendAsync(unchanged))
        {
            Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
            Assert.Equal(etag, response.Headers.ETag);
        }

        // Nothing changes for this tenant: the wait runs out and the answer is still 304.
        var started = System.Diagnostics.Stopwatch.StartNew();
        using (var quiet = new HttpRequestMessage(HttpMethod.Get, "/api/tasks?wait=1"))
        {
            quiet.Headers.IfNoneMatch.Add(etag);
            using var response = await client.SendAsync(quiet);
            Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
            Assert.True(started.Elapsed >= TimeSpan.FromSeconds(0.9), $"answered after {started.Elapsed}");
        }

        // A request waiting for a change answers with the new list as soon as a task is submitted, long before its wait.
        using var waiting = new HttpRequestMessage(HttpMethod.Get, "/api/tasks?wait=30");
        waiting.Headers.IfNoneMatch.Add(etag);
        started.Restart();
        var answer = client.SendAsync(waiting);

        // The task is submitted only once the request has read the list and is held waiting for a change: an answer
        // that did not wait would be the 304 of the list without it.
        var feed = fixture.Factory.Services.GetRequiredService<Api.TaskChangeFeed>();
        await Poll.UntilAsync(() => feed.ListWaiting || answer.IsCompleted, what: "the list request to wait for a change", every: TimeSpan.FromMilliseconds(10));
        Assert.False(answer.IsCompleted, "the waiting request answered before anything changed");
        var id = await ExecutorApiFixture.SubmitAsync(client, new { goal = "Show up in the waiting list" });
        using var changed = await answer;
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(25), $"answered after {started.Elapsed}");
        Assert.NotEqual(etag, changed.Headers.ETag);
        Assert.Equal([id], ListIds(await changed.Content.ReadAsStringAsync()));

        using var tooLong = await client.GetAsync(Url("/api/tasks?wait=31"));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.NotNull(JsonNode.Parse(await tooLong.Content.ReadAsStringAsync())!["errors"]!["wait"]);
    }

    private static async Task<int> CountTasksAsync(HttpClient client) =>
        JsonNode.Parse(await client.GetStringAsync(Url("/api/tasks")))!["total"]!.GetValue<int>();

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<HttpResponseMessage> Post(HttpClient client, string body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/tasks")) { Content = Json(body) };
        request.Headers.Add("Idempotency-Key", key);
        return await client.SendAsync(request);
    }

    private static List<(long Id, string Kind, string Data)> ParseEvents(string stream) =>
        stream.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(block => block.Split('\n'))
            .Where(lines => lines.Any(l => l.StartsWith("id: ", StringComparison.Ordinal)))
            .Select(lines => (
                long.Parse(lines.First(l => l.StartsWith("id: ", StringComparison.Ordinal))[4..], System.Globalization.CultureInfo.InvariantCulture),
                lines.First(l => l.StartsWith("event: ", StringComparison.Ordinal))[7..],
                lines.First(l => l.StartsWith("data: ", StringComparison.Ordinal))[6..]))
            .ToList();
}
