using System.Net;
using System.Text;
using System.Text.Json;
using Agents.ServiceDefaults.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Agents.ServiceDefaults.Tests;

/// <summary>The checks every service gets from MapDefaultEndpoints, on a host with a few routes of each kind.</summary>
[Trait("Category", "Unit")]
public sealed class RequestGuardTests : IAsyncLifetime
{
    private DefaultsHost host = null!;
    private int stored;

    public sealed record Step(string Id, string? Prompt);

    public sealed record Submission(string? Goal, Dictionary<string, string>? Parameters, List<Step>? Steps, List<string>? AllowedTools, Step? First);

    public async Task InitializeAsync() => host = await DefaultsHost.StartAsync(app =>
    {
        app.MapPost("/bound", (Submission body) =>
        {
            Interlocked.Increment(ref stored);
            return Results.Ok(body);
        });
        app.MapPost("/raw", async (HttpRequest request) =>
        {
            var body = await JsonSerializer.DeserializeAsync<Submission>(request.Body, JsonSerializerOptions.Web);
            Interlocked.Increment(ref stored);
            return Results.Ok(body);
        }).Accepts<Submission>("application/json");
        app.MapPost("/forwarded", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            return Results.Text(await reader.ReadToEndAsync());
        }).WithMetadata(new RawRequestBodyAttribute());
        app.MapGet("/pages", (int? page, int? pageSize, Guid? taskId) => Results.Ok(new { page, pageSize, taskId }));
    });

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Theory]
    [InlineData("/bound")]
    [InlineData("/raw")]
    public async Task A_nul_character_in_any_string_is_400_naming_the_field_and_nothing_is_stored(string route)
    {
        var problem = await PostAsync(route, """{"goal":"a","parameters":{"customerId":"C\u00001"},"steps":[{"id":"s","prompt":"x"},{"id":"t","prompt":"bad\u0000"}]}""", HttpStatusCode.BadRequest);

        var errors = problem.GetProperty("errors");
        Assert.Contains("NUL", errors.GetProperty("parameters.customerId")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains("NUL", errors.GetProperty("steps[1].prompt")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(0, stored);
    }

    [Theory]
    [InlineData("""{"goal":"x\uD800y"}""", "goal")]
    [InlineData("""{"goal":"ok","steps":[{"id":"\uDC00","prompt":"p"}]}""", "steps[0].id")]
    [InlineData("""{"go\uD800al":"x"}""", "body (a field name)")]
    public async Task A_lone_surrogate_is_400_naming_the_field(string body, string field)
    {
        var problem = await PostAsync("/bound", body, HttpStatusCode.BadRequest);

        Assert.Contains("Unicode", problem.GetProperty("errors").GetProperty(field)[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(0, stored);
    }

    [Fact]
    public async Task Text_that_is_not_utf8_is_400()
    {
        using var content = new ByteArrayContent([.. "{\"goal\":\""u8, 0xED, 0xA0, 0x80, .. "\"}"u8]);
        content.Headers.ContentType = new("application/json");
        using var response = await host.Client.PostAsync(new Uri("/bound", UriKind.Relative), content);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.True(problem.GetProperty("errors").TryGetProperty("goal", out _));
    }

    [Theory]
    [InlineData("/bound")]
    [InlineData("/raw")]
    public async Task Unknown_fields_are_400_naming_each_of_them(string route)
    {
        var problem = await PostAsync(route, """{"goal":"x","allowed_tools":["crm.lookup"],"steps":[{"id":"s","prompt":"p","promt":"q"}]}""", HttpStatusCode.BadRequest);

        var errors = problem.GetProperty("errors");
        Assert.Contains("'allowedTools'", errors.GetProperty("allowed_tools")[0].GetString(), StringComparison.Ordinal);
        Assert.True(errors.TryGetProperty("steps[0].promt", out _));
        Assert.Equal(0, stored);
    }

    [Theory]
    [InlineData("""{"goal":"x","steps":[{"id":null}]}""", "steps[0].id", "null")]
    [InlineData("""{"goal":"x","steps":{"id":"s"}}""", "steps", "array")]
    [InlineData("""{"goal":"x","parameters":["a"]}""", "parameters", "object")]
    [InlineData("""{"goal":"x","first":"s"}""", "first", "object")]
    [InlineData("""["x"]""", "body", "object")]
    [InlineData("""{"goal":"x","goal":"y"}""", "goal", "twice")]
    [InlineData("""{"goal":"x",}""", "body", "not valid JSON")]
    public async Task Wrong_shapes_are_400_naming_the_field(string body, string field, string message)
    {
        var problem = await PostAsync("/bound", body, HttpStatusCode.BadRequest);

        Assert.Contains(message, problem.GetProperty("errors").GetProperty(field)[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(0, stored);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=b")]
    public async Task A_body_that_is_not_json_is_415(string contentType)
    {
        using var content = new StringContent("""{"goal":"x"}""", Encoding.UTF8);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        foreach (var route in new[] { "/bound", "/raw" })
        {
            using var response = await host.Client.PostAsync(new Uri(route, UriKind.Relative), content);
            await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, ProblemTypes.UnsupportedMediaType);
        }

        Assert.Equal(0, stored);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_even_when_chunked()
    {
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes($"{{\"goal\":\"{new string('x', JsonRequestGuard.MaxBodyBytes)}\"}}")));
        content.Headers.ContentType = new("application/json");
        using var response = await host.Client.PostAsync(new Uri("/raw", UriKind.Relative), content);

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);
        Assert.Equal(0, stored);
    }

    [Fact]
    public async Task A_good_body_passes_and_a_forwarded_route_is_left_alone()
    {
        await PostAsync("/raw", """{"goal":"hello","parameters":{"a":"b"},"allowedTools":["crm.lookup"]}""", HttpStatusCode.OK);
        await PostAsync("/bound", """{"goal":"hello","steps":[{"id":"s","prompt":"line\nbreak"}]}""", HttpStatusCode.OK);
        Assert.Equal(2, stored);

        using var content = new StringContent("not json \0", Encoding.UTF8, "text/plain");
        using var forwarded = await host.Client.PostAsync(new Uri("/forwarded", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
        Assert.Equal("not json \0", await forwarded.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("?page=99999999999", "page")]
    [InlineData("?pageSize=abc", "pageSize")]
    [InlineData("?page=1&page=2", "page")]
    [InlineData("?taskId=nope", "taskId")]
    public async Task A_query_value_that_does_not_bind_is_400_naming_the_parameter(string query, string parameter)
    {
        using var response = await host.Client.GetAsync(new Uri("/pages" + query, UriKind.Relative));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.Validation);
        Assert.True(problem.GetProperty("errors").TryGetProperty(parameter, out _), problem.ToString());
    }

    private async Task<JsonElement> PostAsync(string route, string json, HttpStatusCode expected)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await host.Client.PostAsync(new Uri(route, UriKind.Relative), content);
        if (expected == HttpStatusCode.OK)
        {
            Assert.Equal(expected, response.StatusCode);
            return default;
        }

        return await AssertProblemAsync(response, expected, ProblemTypes.Validation);
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonSerializer.Deserialize<JsonElement>(text);
        Assert.Equal(type, problem.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        return problem;
    }
}
