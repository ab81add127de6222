using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using static Agents.Planner.Tests.TestData;

namespace Agents.Planner.Tests;

[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class TemplateApiTests(PlannerFixture fixture)
{
    private static readonly object ValidTemplate = new
    {
        description = "Look up a customer.",
        parameters = new[] { new { name = "customerId", required = true } },
        steps = new object[]
        {
            new { id = "lookup", kind = "tool", tool = "crm.lookup-customer", arguments = new { customerId = "{{params.customerId}}" }, dependsOn = Array.Empty<string>() },
        },
    };

    [Fact]
    public async Task Seeded_templates_are_listed_and_readable()
    {
        using var client = fixture.CreateClient(Principal("tenant-tpl"));

        var list = await client.GetFromJsonAsync<JsonElement>(new Uri("/api/templates", UriKind.Relative));
        var triage = await client.GetFromJsonAsync<JsonElement>(new Uri("/api/templates/triage-customer-issue", UriKind.Relative));
        using var missing = await client.GetAsync(new Uri("/api/templates/nope", UriKind.Relative));

        var names = list.EnumerateArray().Select(t => t.GetProperty("name").GetString()).ToList();
        Assert.Contains("triage-customer-issue", names);
        Assert.Contains("lookup-and-summarize", names);
        Assert.Equal(["lookup", "kb", "draft", "ticket"], triage.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("id").GetString()));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Only_admins_may_store_a_template()
    {
        using var client = fixture.CreateClient(Principal("tenant-tpl", "user"));

        using var response = await client.PutAsJsonAsync(new Uri("/api/templates/lookup-only", UriKind.Relative), ValidTemplate);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("https://agents.dev/problems/forbidden", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Admin_stores_versions_and_new_plans_use_the_latest()
    {
        var name = "lookup-" + Guid.NewGuid().ToString("N")[..8];
        using var client = fixture.CreateClient(Principal("tenant-tpl", "admin"));
        var uri = new Uri($"/api/templates/{name}", UriKind.Relative);

        using var first = await client.PutAsJsonAsync(uri, ValidTemplate);
        using var second = await client.PutAsJsonAsync(uri, ValidTemplate);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(1, (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt32());
        Assert.Equal(2, (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt32());
        var (created, _) = await fixture.PlanAsync(Template(Principal("tenant-tpl"), name, new() { ["customerId"] = "C-5" }));
        Assert.Equal($"Workflow template '{name}' version 2.", created!.Plan.Rationale);
    }

    [Fact]
    public async Task Invalid_template_is_refused_with_each_error()
    {
        using var client = fixture.CreateClient(Principal("tenant-tpl", "admin"));
        var body = new
        {
            description = "Broken.",
            parameters = Array.Empty<object>(),
            steps = new object[]
            {
                new { id = "a", kind = "tool", tool = "crm.nope", arguments = new { }, dependsOn = Array.Empty<string>() },
                new { id = "b", kind = "model", prompt = "{{params.missing}}", dependsOn = new[] { "a" } },
            },
        };

        using var response = await client.PutAsJsonAsync(new Uri("/api/templates/broken", UriKind.Relative), body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("https://agents.dev/problems/validation", problem.GetProperty("type").GetString());
        var errors = problem.GetProperty("errors").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("step 'a': unknown tool 'crm.nope'; known tools: crm.lookup-customer, tickets.create, web.fetch.", errors);
        Assert.Contains("step 'b': references {{params.missing}}, but no parameters were given.", errors);
    }

    [Fact]
    public async Task A_version_carries_the_model_its_model_steps_name_and_only_model_steps_may_name_one()
    {
        var name = "brief-" + Guid.NewGuid().ToString("N")[..8];
        using var client = fixture.CreateClient(Principal("tenant-tpl", "admin"));
        var lookup = new { id = "lookup", kind = "tool", tool = "crm.lookup-customer", arguments = new { customerId = "{{params.customerId}}" }, dependsOn = Array.Empty<string>() };
        var parameters = new[] { new { name = "customerId", required = true } };

        using var stored = await client.PutAsJsonAsync(new Uri($"/api/templates/{name}", UriKind.Relative), new
        {
            description = "Brief.",
            parameters,
            steps = new object[] { lookup, new { id = "brief", kind = "model", prompt = "Brief {{steps.lookup.output}}", dependsOn = new[] { "lookup" }, model = "candidate" } },
        });
        using var refused = await client.PutAsJsonAsync(new Uri($"/api/templates/{name}", UriKind.Relative), new
        {
            description = "Brief.",
            parameters,
            steps = new object[] { new { id = "lookup", kind = "tool", tool = "crm.lookup-customer", arguments = new { customerId = "{{params.customerId}}" }, dependsOn = Array.Empty<string>(), model = "candidate" } },
        });
        var (created, _) = await fixture.PlanAsync(Template(Principal("tenant-tpl"), name, new() { ["customerId"] = "C-5" }));

        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        Assert.Equal("candidate", created!.Plan.Steps.Single(s => s.Id == "brief").Model);
        Assert.Null(created.Plan.Steps.Single(s => s.Id == "lookup").Model);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("step 'lookup': model is only for model steps.", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_json_is_a_validation_problem()
    {
        using var client = fixture.CreateClient(Principal("tenant-tpl", "admin"));
        using var content = new StringContent("{\"steps\": [", Encoding.UTF8, "application/json");

        using var response = await client.PutAsync(new Uri("/api/templates/bad-json", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("https://agents.dev/problems/validation", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
    }
}
