using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Agents.Contracts;
using Agents.Planner.Templates;
using static Agents.Planner.Tests.TestData;

namespace Agents.Planner.Tests;

[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class TemplateRolloutTests(PlannerFixture fixture)
{
    private const string Tenant = "tenant-rollout";

    [Fact]
    public async Task A_rollout_sends_its_share_of_new_tasks_to_the_candidate_and_each_plan_names_its_version()
    {
        var name = await TwoVersionsAsync();
        using var admin = fixture.CreateClient(Principal(Tenant, "admin"));

        using var set = await admin.PutAsJsonAsync(Rollout(name), new { candidateVersion = 2, percent = 30 });

        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var rollout = await set.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, rollout.GetProperty("stableVersion").GetInt32()); // the version that served until now
        Assert.Equal(2, rollout.GetProperty("candidateVersion").GetInt32());
        Assert.Equal($"{Tenant}/user-1", rollout.GetProperty("updatedBy").GetString());

        var requests = Enumerable.Range(0, 200).Select(_ => Template(Principal(Tenant), name, new() { ["customerId"] = "C-1" })).ToList();
        var plans = new List<(CreatePlan Request, Plan Plan)>();
        foreach (var batch in requests.Chunk(25))
        {
            var created = await Task.WhenAll(batch.Select(async r => (r, (await fixture.PlanAsync(r)).Created!.Plan)));
            plans.AddRange(created);
        }

        // The side follows from the task id alone: a task and its re-plans always land on the same one.
        Assert.All(plans, p =>
        {
            var candidate = TemplateStore.Bucket(p.Request.TaskId) < 30;
            Assert.Equal(candidate ? 2 : 1, p.Plan.TemplateVersion);
            Assert.Equal(candidate ? "candidate" : "stable", p.Plan.Rollout);
            Assert.Equal(name, p.Plan.Template);
            Assert.Equal(candidate ? ["lookup", "summary"] : ["lookup"], p.Plan.Steps.Select(s => s.Id));
            Assert.Contains($"version {p.Plan.TemplateVersion} (the {p.Plan.Rollout} version of its rollout)", p.Plan.Rationale, StringComparison.Ordinal);
        });
        var share = plans.Count(p => p.Plan.Rollout == "candidate") / (double)plans.Count;
        Assert.InRange(share, 0.20, 0.40); // 30 % of 200: σ ≈ 3.2 points
    }

    [Fact]
    public async Task A_rollback_sends_every_new_task_to_the_stable_version_and_ending_the_rollout_serves_the_newest()
    {
        var name = await TwoVersionsAsync();
        using var admin = fixture.CreateClient(Principal(Tenant, "admin"));
        (await admin.PutAsJsonAsync(Rollout(name), new { candidateVersion = 2, stableVersion = 1, percent = 0 })).Dispose();

        var rolledBack = await PlanManyAsync(name, 20);
        using var ended = await admin.DeleteAsync(Rollout(name));
        using var endedAgain = await admin.DeleteAsync(Rollout(name));
        using var gone = await admin.GetAsync(Rollout(name));
        var after = await PlanManyAsync(name, 5);

        Assert.All(rolledBack, p => Assert.Equal((1, "stable"), (p.TemplateVersion!.Value, p.Rollout!)));
        Assert.Equal(HttpStatusCode.NoContent, ended.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, endedAgain.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.All(after, p => Assert.Equal((2, (string?)null), (p.TemplateVersion!.Value, p.Rollout)));
    }

    [Fact]
    public async Task A_pinned_version_plans_with_exactly_that_version_whatever_the_rollout()
    {
        var name = await TwoVersionsAsync();
        using var admin = fixture.CreateClient(Principal(Tenant, "admin"));
        (await admin.PutAsJsonAsync(Rollout(name), new { candidateVersion = 2, percent = 100 })).Dispose();

        var (pinned, _) = await fixture.PlanAsync(Template(Principal(Tenant), name, new() { ["customerId"] = "C-1" }) with { TemplateVersion = 1 });
        var (_, missing) = await fixture.PlanAsync(Template(Principal(Tenant), name, new() { ["customerId"] = "C-1" }) with { TemplateVersion = 9 });
        var (rolled, _) = await fixture.PlanAsync(Template(Principal(Tenant), name, new() { ["customerId"] = "C-1" }));

        Assert.Equal((1, (string?)null), (pinned!.Plan.TemplateVersion!.Value, pinned.Plan.Rollout));
        Assert.Equal(["lookup"], pinned.Plan.Steps.Select(s => s.Id));
        Assert.Equal($"template '{name}' has no version 9 (or it is retired)", missing!.Reason);
        Assert.Equal((2, "candidate"), (rolled!.Plan.TemplateVersion!.Value, rolled.Plan.Rollout!));
    }

    [Fact]
    public async Task Bad_rollouts_are_refused_with_problem_details_and_change_nothing()
    {
        var name = await TwoVersionsAsync();
        using var admin = fixture.CreateClient(Principal(Tenant, "admin"));
        using var user = fixture.CreateClient(Principal(Tenant, "user"));
        using var stranger = fixture.CreateClient(Principal("tenant-rollout-other", "admin"));

        using var notAdmin = await user.PutAsJsonAsync(Rollout(name), new { candidateVersion = 2, percent = 10 });
        using var tooMuch = await admin.PutAsJsonAsync(Rollout(name), new { candidateVersion = 2, percent = 101 });
        using var noSuchVersion = await admin.PutAsJsonAsync(Rollout(name), new { candidateVersion = 7, percent = 10 });
        using var same = await admin.PutAsJsonAsync(Rollout(name), new { candidateVersion = 2, stableVersion = 2, percent = 10 });
        using var otherTenant = await stranger.PutAsJsonAsync(Rollout(name), new { candidateVersion = 2, percent = 10 });
        using var builtIn = await admin.PutAsJsonAsync(Rollout("lookup-and-summarize"), new { candidateVersion = 1, percent = 10 });
        using var content = new StringContent("{\"candidateVersion\": ", Encoding.UTF8, "application/json");
        using var malformed = await admin.PutAsync(Rollout(name), content);
        using var none = await admin.GetAsync(Rollout(name));

        Assert.Equal(HttpStatusCode.Forbidden, notAdmin.StatusCode);
        await AssertProblemAsync(tooMuch, HttpStatusCode.BadRequest, "percent must be between 0 and 100 (was 101).");
        await AssertProblemAsync(noSuchVersion, HttpStatusCode.BadRequest, $"Template '{name}' has no version 7 to roll out (stored: 1, 2).");
        await AssertProblemAsync(same, HttpStatusCode.BadRequest, "The stable and the candidate version are both 2; a rollout needs two different versions.");
        Assert.Equal(HttpStatusCode.NotFound, otherTenant.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, builtIn.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal("application/problem+json", malformed.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        Assert.All(await PlanManyAsync(name, 3), p => Assert.Equal((2, (string?)null), (p.TemplateVersion!.Value, p.Rollout)));
    }

    [Fact]
    public async Task A_template_with_one_version_has_nothing_to_roll_out_against()
    {
        var name = "rollout-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = fixture.CreateClient(Principal(Tenant, "admin"));
        (await admin.PutAsJsonAsync(new Uri($"/api/templates/{name}", UriKind.Relative), Version(summary: false))).Dispose();

        using var response = await admin.PutAsJsonAsync(Rollout(name), new { candidateVersion = 1, percent = 10 });

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, $"Template '{name}' has only version 1; a rollout needs a second version to compare it with.");
    }

    [Fact]
    public async Task Retiring_a_template_ends_its_rollout_and_no_version_of_it_runs_pinned_or_not()
    {
        var name = await TwoVersionsAsync();
        using var admin = fixture.CreateClient(Principal(Tenant, "admin"));
        (await admin.PutAsJsonAsync(Rollout(name), new { candidateVersion = 2, percent = 50 })).Dispose();

        using var retired = await admin.DeleteAsync(new Uri($"/api/templates/{name}", UriKind.Relative));
        var (_, pinned) = await fixture.PlanAsync(Template(Principal(Tenant), name, new() { ["customerId"] = "C-1" }) with { TemplateVersion = 1 });
        using var back = await admin.PutAsJsonAsync(new Uri($"/api/templates/{name}", UriKind.Relative), Version(summary: false));
        using var rollout = await admin.GetAsync(Rollout(name));
        var after = await PlanManyAsync(name, 3);

        Assert.Equal(HttpStatusCode.NoContent, retired.StatusCode);
        Assert.Equal($"template '{name}' has no version 1 (or it is retired)", pinned!.Reason);
        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, rollout.StatusCode);
        Assert.All(after, p => Assert.Equal((4, (string?)null), (p.TemplateVersion!.Value, p.Rollout))); // 1, 2, retired 3, then 4
    }

    [Fact]
    public async Task After_a_full_rollout_the_next_one_keeps_the_version_serving_now()
    {
        var name = await TwoVersionsAsync();
        using var admin = fixture.CreateClient(Principal(Tenant, "admin"));
        (await admin.PutAsJsonAsync(Rollout(name), new { candidateVersion = 2, percent = 100 })).Dispose();
        (await admin.PutAsJsonAsync(new Uri($"/api/templates/{name}", UriKind.Relative), Version(summary: false))).Dispose();

        using var next = await admin.PutAsJsonAsync(Rollout(name), new { candidateVersion = 3, percent = 10 });

        var rollout = await next.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((2, 3), (rollout.GetProperty("stableVersion").GetInt32(), rollout.GetProperty("candidateVersion").GetInt32()));
    }

    [Fact]
    public async Task A_revision_keeps_the_model_attempts_and_timeout_a_step_of_the_version_names()
    {
        var name = "rollout-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = fixture.CreateClient(Principal(Tenant, "admin"));
        using var stored = await admin.PutAsJsonAsync(new Uri($"/api/templates/{name}", UriKind.Relative), new
        {
            description = "Brief.",
            parameters = new[] { new { name = "customerId", required = true } },
            steps = new object[]
            {
                new { id = "lookup", kind = "tool", tool = "crm.lookup-customer", arguments = new { customerId = "{{params.customerId}}" }, dependsOn = Array.Empty<string>() },
                new { id = "brief", kind = "model", prompt = "Brief {{steps.lookup.output}}", dependsOn = new[] { "lookup" }, model = "candidate", maxAttempts = 2, timeoutSeconds = 40 },
            },
        });
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        var request = Template(Principal(Tenant), name, new() { ["customerId"] = "C-1" });
        var (created, _) = await fixture.PlanAsync(request);

        var (revised, rejected) = await fixture.PlanAsync(new RevisePlan(request.TaskId, request.Principal, created!.Plan.PlanId, 1, "lookup", "HTTP 503 from the CRM", []));

        Assert.Null(rejected);
        Assert.Equal(2, revised!.Plan.Version);
        var brief = revised.Plan.Steps.Single(s => s.Id == "brief");
        Assert.Equal(("candidate", 2, TimeSpan.FromSeconds(40)), (brief.Model, brief.MaxAttempts!.Value, brief.Timeout!.Value));
        Assert.Equal((name, 1), (revised.Plan.Template, revised.Plan.TemplateVersion!.Value));
    }

    [Fact]
    public void Buckets_spread_evenly_over_time_ordered_task_ids()
    {
        var buckets = Enumerable.Range(0, 10_000).Select(_ => TemplateStore.Bucket(Guid.CreateVersion7())).ToList();

        Assert.All(buckets, b => Assert.InRange(b, 0, 99));
        Assert.InRange(buckets.Count(b => b < 10) / 10_000.0, 0.08, 0.12);
        Assert.InRange(buckets.Count(b => b < 50) / 10_000.0, 0.47, 0.53);
    }

    /// <summary>A new template of the tenant with version 1 (one step) and version 2 (two steps).</summary>
    private async Task<string> TwoVersionsAsync()
    {
        var name = "rollout-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = fixture.CreateClient(Principal(Tenant, "admin"));
        var uri = new Uri($"/api/templates/{name}", UriKind.Relative);
        using var first = await admin.PutAsJsonAsync(uri, Version(summary: false));
        using var second = await admin.PutAsJsonAsync(uri, Version(summary: true));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        return name;
    }

    private async Task<List<Plan>> PlanManyAsync(string name, int count) =>
        [.. await Task.WhenAll(Enumerable.Range(0, count).Select(async _ => (await fixture.PlanAsync(Template(Principal(Tenant), name, new() { ["customerId"] = "C-1" }))).Created!.Plan))];

    private static object Version(bool summary) => new
    {
        description = summary ? "Look up a customer and summarize." : "Look up a customer.",
        parameters = new[] { new { name = "customerId", required = true } },
        steps = summary
            ? new object[]
            {
                new { id = "lookup", kind = "tool", tool = "crm.lookup-customer", arguments = new { customerId = "{{params.customerId}}" }, dependsOn = Array.Empty<string>() },
                new { id = "summary", kind = "model", prompt = "Summarize {{steps.lookup.output}}", dependsOn = new[] { "lookup" } },
            }
            : [new { id = "lookup", kind = "tool", tool = "crm.lookup-customer", arguments = new { customerId = "{{params.customerId}}" }, dependsOn = Array.Empty<string>() }],
    };

    private static Uri Rollout(string name) => new($"/api/templates/{name}/rollout", UriKind.Relative);

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detail)
    {
        Assert.Equal(status, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("https://agents.dev/problems/validation", problem.GetProperty("type").GetString());
        Assert.Equal(detail, problem.GetProperty("detail").GetString());
    }
}
