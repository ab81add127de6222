using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Agents.Testing;

namespace Agents.Executor.Tests;

/// <summary>Task submission refuses what cannot be stored or was not meant, naming the field; no task is created.</summary>
[Trait("Category", "Infrastructure")]
public sealed class TaskBadInputTests(ExecutorApiFixture fixture) : IClassFixture<ExecutorApiFixture>
{
    [Theory]
    [InlineData("""{"goal":"find \u0000 it"}""", "goal")]
    [InlineData("""{"goal":"\uD800"}""", "goal")]
    [InlineData("""{"template":"lookup-and-summarize","parameters":{"customerId":"C-\u00001"}}""", "parameters.customerId")]
    [InlineData("""{"steps":[{"id":"s","kind":"model","prompt":"say \u0000"}]}""", "steps[0].prompt")]
    [InlineData("""{"steps":[{"id":"s","kind":"model","prompt":"\uDC00"}]}""", "steps[0].prompt")]
    [InlineData("""{"goal":"a","goal":"b"}""", "goal")]
    public async Task Text_that_cannot_be_stored_is_400_naming_the_field_and_no_task_is_created(string body, string field)
    {
        var tenant = TestInfrastructure.UniqueName("tenant");
        using var client = fixture.ClientFor(tenant);

        using var response = await client.PostAsync(new Uri("/api/tasks", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.NotNull(problem["errors"]![field]);
        await AssertNoTaskAsync(client);
    }

    [Fact]
    public async Task A_misspelt_field_is_refused_so_a_task_never_runs_without_its_restriction()
    {
        using var client = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"));

        using var response = await client.PostAsync(
            new Uri("/api/tasks", UriKind.Relative),
            new StringContent("""{"goal":"look up C-1","allowed_tools":["crm.lookup-customer"]}""", Encoding.UTF8, "application/json"));

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("allowed_tools", problem.ToJsonString(), StringComparison.Ordinal);
        await AssertNoTaskAsync(client);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=b")]
    public async Task A_submission_that_is_not_json_is_415(string contentType)
    {
        using var client = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"));
        using var content = new StringContent("""{"goal":"x"}""", Encoding.UTF8);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);

        using var response = await client.PostAsync(new Uri("/api/tasks", UriKind.Relative), content);

        await ProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        await AssertNoTaskAsync(client);
    }

    [Theory]
    [InlineData("?page=99999999999", "page")]
    [InlineData("?pageSize=abc", "pageSize")]
    [InlineData("?page=1&page=2", "page")]
    public async Task A_list_query_value_that_does_not_bind_is_400(string query, string parameter)
    {
        using var client = fixture.ClientFor(TestInfrastructure.UniqueName("tenant"));

        using var response = await client.GetAsync(new Uri("/api/tasks" + query, UriKind.Relative));

        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.NotNull(problem["errors"]![parameter]);
    }

    private static async Task AssertNoTaskAsync(HttpClient client)
    {
        var page = JsonNode.Parse(await client.GetStringAsync(new Uri("/api/tasks", UriKind.Relative)))!;
        Assert.Equal(0, page["total"]!.GetValue<int>());
    }

    private static async Task<JsonNode> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(text)!;
        Assert.StartsWith("https://agents.dev/problems/", problem["type"]!.GetValue<string>(), StringComparison.Ordinal);
        return problem;
    }
}
