using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Testing;

namespace Agents.Executor.Tests;

/// <summary>
/// Models configured by name (<c>Models:Named:candidate</c> in the fixture: model id <c>candidate-model</c>, 8 output
/// tokens at most, its own price): a model step that names one runs on it, a step naming none that exists fails at once,
/// and a what-if replay can run every model step of a recorded task on it.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class NamedModelTests(ExecutorApiFixture fixture) : IClassFixture<ExecutorApiFixture>
{
    private static Uri Url(string path) => new(path, UriKind.Relative);

    [Fact]
    public async Task A_step_that_names_a_model_runs_on_it_and_one_naming_an_unknown_model_fails_without_retries_or_revision()
    {
        using var client = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"));
        var named = await SubmitAsync(client, Step("Describe the weather in Lisbon in a long paragraph", "candidate"));
        await fixture.PublishAsync(new TaskAdmitted(named, new TaskLimits(), null));

        // A template's step may name a model the API never saw (the planner expands it): the worker checks it again.
        var unknown = await ExecutorApiFixture.SubmitAsync(client, new { template = "lookup-and-summarize", parameters = new Dictionary<string, string> { ["customerId"] = "C-1" } });
        await fixture.PublishAsync(new PlanCreated(
            unknown,
            new Plan(Guid.NewGuid(), 1, "template", [Step("Say hello", "nope") with { MaxAttempts = 3 }], Template: "lookup-and-summarize", TemplateVersion: 1),
            new TaskAdmitted(unknown, new TaskLimits(), null)));

        await ExecutorApiFixture.WaitForTaskAsync(client, named, t => t["status"]!.GetValue<string>() == "Completed", "completed on the candidate");
        // Failed for good at once, and no revision is asked for: no plan can make the model be there.
        var failed = await ExecutorApiFixture.WaitForTaskAsync(client, unknown, t => t["finishedAt"] is not null, "the task ended");

        var call = await ModelCallAsync(client, named);
        Assert.Equal("candidate-model", call["model"]!.GetValue<string>());
        Assert.True(call["outputTokens"]!.GetValue<int>() <= 8, call.ToJsonString()); // the named model's own cap
        Assert.True(call["cost"]!.GetValue<decimal>() > 0);
        Assert.Equal("Failed", failed["status"]!.GetValue<string>());
        var step = failed["steps"]!.AsArray().Single()!;
        Assert.Equal(1, step["attempts"]!.GetValue<int>()); // permanent: not retried although 3 attempts were allowed
        Assert.Contains("No model named 'nope' is configured in the executor for tenant", step["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("candidate", step["error"]!.GetValue<string>(), StringComparison.Ordinal); // no list of the models there are
        var log = JsonNode.Parse(await client.GetStringAsync(Url($"/api/tasks/{unknown}/log")))!;
        Assert.DoesNotContain(log["events"]!.AsArray(), e => e!["kind"]!.GetValue<string>() == "plan-revision-requested");
    }

    [Fact]
    public async Task A_what_if_replay_runs_the_recorded_task_on_another_model_and_bad_choices_are_refused()
    {
        using var client = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"));
        var original = await SubmitAsync(client, Step("Describe the weather in Lisbon in a long paragraph", null));
        await fixture.PublishAsync(new TaskAdmitted(original, new TaskLimits(), null));
        await ExecutorApiFixture.WaitForTaskAsync(client, original, t => t["status"]!.GetValue<string>() == "Completed", "the original completed");

        foreach (var (body, problem) in new[]
        {
            ("""{"model":"candidate"}""", "A model is chosen only for a what-if replay"),
            ("""{"whatIf":true,"model":"gpt-9"}""", "No model named 'gpt-9' is configured in the executor for tenant"),
            ("""{"whatIf":true,"model":"restricted"}""", "No model named 'restricted' is configured in the executor for tenant"),
            ("""{"whatIf":true,"model":"../x"}""", "is not a model name"),
        })
        {
            using var refused = await client.PostAsync(Url($"/api/tasks/{original}/replay"), new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains(problem, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var started = await client.PostAsJsonAsync(Url($"/api/tasks/{original}/replay"), new { whatIf = true, model = "candidate" });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var replay = (await started.Content.ReadFromJsonAsync<JsonNode>())!["id"]!.GetValue<Guid>();
        await fixture.PublishAsync(new TaskAdmitted(replay, new TaskLimits(), null));
        await ExecutorApiFixture.WaitForTaskAsync(client, replay, t => t["status"]!.GetValue<string>() == "Completed", "the what-if completed");

        Assert.Equal("deterministic", (await ModelCallAsync(client, original))["model"]!.GetValue<string>());
        var replayed = await ModelCallAsync(client, replay);
        Assert.Equal("candidate-model", replayed["model"]!.GetValue<string>());
        var report = JsonNode.Parse(await client.GetStringAsync(Url($"/api/tasks/{replay}/replay")))!;
        Assert.Equal(1, report["liveCalls"]!.GetValue<int>());
        Assert.False(report["resultMatches"]!.GetValue<bool>()); // eight tokens at most: another answer
    }

    [Fact]
    public async Task A_task_submitted_with_a_model_runs_every_model_step_on_it_and_an_unknown_one_is_refused()
    {
        using var client = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"));
        var id = await ExecutorApiFixture.SubmitAsync(client, new { steps = new[] { Step("Say hello", null) }, model = "candidate" });
        await fixture.PublishAsync(new TaskAdmitted(id, new TaskLimits(), null));
        await ExecutorApiFixture.WaitForTaskAsync(client, id, t => t["status"]!.GetValue<string>() == "Completed", "completed");

        using var unknown = await client.PostAsJsonAsync(Url("/api/tasks"), new { steps = new[] { Step("Say hello", null) }, model = "gpt-9" }, ExecutorApiFixture.Json);
        using var malformed = await client.PostAsJsonAsync(Url("/api/tasks"), new { steps = new[] { Step("Say hello", null) }, model = "a b" }, ExecutorApiFixture.Json);

        Assert.Equal("candidate-model", (await ModelCallAsync(client, id))["model"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.StartsWith("No model named 'gpt-9' is configured in the executor for tenant", JsonNode.Parse(await unknown.Content.ReadAsStringAsync())!["errors"]!["model"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Contains("is not a model name", await malformed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_model_with_a_tenants_list_serves_only_those_tenants()
    {
        using var allowed = fixture.ClientFor(ExecutorApiFixture.RestrictedModelTenant);
        using var other = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"));

        var id = await ExecutorApiFixture.SubmitAsync(allowed, new { steps = new[] { Step("Say hello", "restricted") } });
        using var refusedTask = await other.PostAsJsonAsync(Url("/api/tasks"), new { steps = new[] { Step("Say hello", null) }, model = "restricted" }, ExecutorApiFixture.Json);
        using var refusedStep = await other.PostAsJsonAsync(Url("/api/tasks"), new { steps = new[] { Step("Say hello", "restricted") } }, ExecutorApiFixture.Json);
        await fixture.PublishAsync(new TaskAdmitted(id, new TaskLimits(), null));
        await ExecutorApiFixture.WaitForTaskAsync(allowed, id, t => t["status"]!.GetValue<string>() == "Completed", "completed on the restricted model");

        Assert.Equal("restricted-model", (await ModelCallAsync(allowed, id))["model"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, refusedTask.StatusCode);
        Assert.Contains("No model named 'restricted'", JsonNode.Parse(await refusedTask.Content.ReadAsStringAsync())!["errors"]!["model"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, refusedStep.StatusCode);
        Assert.Contains("No model named 'restricted'", JsonNode.Parse(await refusedStep.Content.ReadAsStringAsync())!["errors"]!["steps[0].model"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tool_step_that_names_a_model_is_a_validation_problem()
    {
        using var client = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"));

        using var response = await client.PostAsJsonAsync(Url("/api/tasks"), new
        {
            steps = new[] { new { id = "lookup", kind = "tool", tool = "crm.lookup-customer", argumentsJson = """{"customerId":"C-1"}""", dependsOn = Array.Empty<string>(), model = "candidate" } },
        }, ExecutorApiFixture.Json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("model is only for model steps.", problem["errors"]!["steps[0].model"]![0]!.GetValue<string>());
    }

    private static PlanStep Step(string prompt, string? model) => new("answer", StepKind.Model, null, null, prompt, [], Model: model);

    private static Task<Guid> SubmitAsync(HttpClient client, PlanStep step) => ExecutorApiFixture.SubmitAsync(client, new { steps = new[] { step } });

    private static async Task<JsonNode> ModelCallAsync(HttpClient client, Guid task)
    {
        var log = JsonNode.Parse(await client.GetStringAsync(Url($"/api/tasks/{task}/log")))!;
        return log["events"]!.AsArray().Last(e => e!["kind"]!.GetValue<string>() == "model-call")!["data"]!;
    }
}
