using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Agents.Contracts;
using Microsoft.EntityFrameworkCore;
using static Agents.Planner.Tests.TestData;

namespace Agents.Planner.Tests;

[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class RevisionTests(PlannerFixture fixture)
{
    [Fact]
    public async Task Revision_creates_version_2_of_the_same_plan_and_keeps_version_1()
    {
        var caller = Principal("tenant-rev");
        var request = Template(caller, "triage-customer-issue", new() { ["customerId"] = "C-1001" });
        var (first, _) = await fixture.PlanAsync(request);
        var v1 = first!.Plan;

        var (revised, rejected) = await fixture.PlanAsync(new RevisePlan(request.TaskId, caller, v1.PlanId, 1, "kb", "HTTP 503 from the knowledge base", ["lookup"]));

        Assert.Null(rejected);
        var v2 = revised!.Plan;
        Assert.Equal(v1.PlanId, v2.PlanId);
        Assert.Equal(2, v2.Version);
        Assert.Equal("revision", v2.Source);
        Assert.Equal(JsonSerializer.Serialize(v1.Steps[0]), JsonSerializer.Serialize(v2.Steps[0])); // the completed step is kept unchanged
        Assert.Equal(["lookup", "kb", "draft", "ticket"], v2.Steps.Select(s => s.Id));

        await using var db = fixture.CreateDbContext();
        var stored = await db.PlanVersions.Where(p => p.PlanId == v1.PlanId).OrderBy(p => p.Version).ToListAsync();
        Assert.Equal([1, 2], stored.Select(p => p.Version));
        Assert.Equal("template", stored[0].Source);
        Assert.Equal("step 'kb' failed: HTTP 503 from the knowledge base", stored[1].RevisionReason);

        using var client = fixture.CreateClient(caller);
        using var history = JsonDocument.Parse(await client.GetStringAsync(new Uri($"/api/plans/{request.TaskId}", UriKind.Relative)));
        var versions = history.RootElement.GetProperty("versions");
        Assert.Equal(2, versions.GetArrayLength());
        Assert.Equal("template", versions[0].GetProperty("source").GetString());
        Assert.Equal("revision", versions[1].GetProperty("source").GetString());

        // Same request again (a redelivery): the stored version 2, not a third version.
        var (again, _) = await fixture.PlanAsync(new RevisePlan(request.TaskId, caller, v1.PlanId, 1, "kb", "HTTP 503 from the knowledge base", ["lookup"]));
        Assert.Equal(2, again!.Plan.Version);
        Assert.Equal(2, await db.PlanVersions.CountAsync(p => p.PlanId == v1.PlanId));

        // Planner:MaxRevisions = 1 in the fixture.
        var (_, limit) = await fixture.PlanAsync(new RevisePlan(request.TaskId, caller, v1.PlanId, 2, "kb", "still down", ["lookup"]));
        Assert.StartsWith("The plan was already revised 1 time(s), the most allowed (Planner:MaxRevisions = 1)", limit!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revision_of_another_tenants_plan_is_rejected()
    {
        var request = Template(Principal("tenant-rev-a"), "lookup-and-summarize", new() { ["customerId"] = "C-1" });
        var (first, _) = await fixture.PlanAsync(request);

        var (created, rejected) = await fixture.PlanAsync(new RevisePlan(request.TaskId, Principal("tenant-rev-b"), first!.Plan.PlanId, 1, "kb", "x", []));

        Assert.Null(created);
        Assert.Contains("was not found", rejected!.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plans_api_answers_only_the_owning_tenant()
    {
        var owner = Principal("tenant-api-a");
        var request = Template(owner, "lookup-and-summarize", new() { ["customerId"] = "C-1" });
        await fixture.PlanAsync(request);
        var path = new Uri($"/api/plans/{request.TaskId}", UriKind.Relative);

        using var ownerClient = fixture.CreateClient(owner);
        using var otherClient = fixture.CreateClient(Principal("tenant-api-b"));
        using var anonymous = fixture.CreateClient(null);

        using var mine = await ownerClient.GetAsync(path);
        using var theirs = await otherClient.GetAsync(path);
        using var nobody = await anonymous.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
        Assert.Equal(request.TaskId, (await mine.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("taskId").GetGuid());
        Assert.Equal(HttpStatusCode.NotFound, theirs.StatusCode);
        var problem = await theirs.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("https://agents.dev/problems/not-found", problem.GetProperty("type").GetString());
        Assert.DoesNotContain("lookup", await theirs.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, nobody.StatusCode);
    }
}
