using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Agents.Planner.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static Agents.Planner.Tests.TestData;

namespace Agents.Planner.Tests;

/// <summary>A template write with text PostgreSQL cannot store, an unknown field, oversized text or a non-JSON body is refused; nothing is stored.</summary>
[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class TemplateBadInputTests(PlannerFixture fixture)
{
    private const string Step = """{"id":"lookup","kind":"tool","tool":"crm.lookup-customer","arguments":{"customerId":"{{params.customerId}}"}}""";

    public static TheoryData<string, string> Bodies => new()
    {
        { $$"""{"description":"a\u0000b","parameters":[{"name":"customerId","required":true}],"steps":[{{Step}}]}""", "description" },
        { $$"""{"description":"ok","parameters":[{"name":"customerId","required":true,"description":"\uD83D"}],"steps":[{{Step}}]}""", "parameters[0].description" },
        { """{"description":"ok","steps":[{"id":"m","kind":"model","prompt":"Say \u0000 hi"}]}""", "steps[0].prompt" },
        { $$"""{"description":"ok","steps":[{{Step}}],"allowed_tools":["crm.lookup-customer"]}""", "allowed_tools" },
        { """{"description":"ok","steps":[{"id":"m","kind":"model","prompt":"hi","promt":"x"}]}""", "steps[0].promt" },
        { $$"""{"description":"ok","parameters":[{"name":null,"required":true}],"steps":[{{Step}}]}""", "parameters[0].name" },
        { """{"description":"ok","steps":{"id":"m"}}""", "steps" },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public async Task A_bad_template_body_is_400_naming_the_field_and_nothing_is_stored(string body, string field)
    {
        var name = "bad-" + Guid.NewGuid().ToString("N")[..8];
        using var client = fixture.CreateClient(Principal("tenant-bad", "admin"));
        using var content = new StringContent(body, Encoding.UTF8, "application/json");

        using var response = await client.PutAsync(new Uri($"/api/templates/{name}", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("https://agents.dev/problems/validation", problem.GetProperty("type").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Equal(0, await StoredAsync(name));
    }

    [Fact]
    public async Task An_oversized_description_or_prompt_is_400_and_nothing_is_stored()
    {
        var name = "big-" + Guid.NewGuid().ToString("N")[..8];
        using var client = fixture.CreateClient(Principal("tenant-bad", "admin"));
        var bodies = new object[]
        {
            new { description = new string('d', 2001), steps = new[] { new { id = "m", kind = "model", prompt = "hi" } } },
            new { description = "ok", steps = new[] { new { id = "m", kind = "model", prompt = new string('p', 16_001) } } },
        };

        foreach (var body in bodies)
        {
            using var response = await client.PutAsJsonAsync(new Uri($"/api/templates/{name}", UriKind.Relative), body);

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("at most", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(0, await StoredAsync(name));
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=b")]
    public async Task A_template_body_that_is_not_json_is_415(string contentType)
    {
        var name = "mt-" + Guid.NewGuid().ToString("N")[..8];
        using var client = fixture.CreateClient(Principal("tenant-bad", "admin"));
        using var content = new StringContent($$"""{"description":"ok","steps":[{{Step}}]}""", Encoding.UTF8);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);

        using var response = await client.PutAsync(new Uri($"/api/templates/{name}", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await StoredAsync(name));
    }

    private async Task<int> StoredAsync(string name)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<PlannerDbContext>().Templates.CountAsync(t => t.Name == name);
    }
}
