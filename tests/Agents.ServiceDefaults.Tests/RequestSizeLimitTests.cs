using System.Net;
using System.Text.Json;
using Agents.ServiceDefaults.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Agents.ServiceDefaults.Tests;

/// <summary>Refusals of the request line and headers carry problem details, on a real Kestrel server.</summary>
[Trait("Category", "Unit")]
public sealed class RequestSizeLimitTests : IAsyncLifetime
{
    private WebApplication app = null!;
    private HttpClient client = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddServiceDefaults();
        app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGet("/items/{id}", (string id) => Results.Ok(new { id }));
        await app.StartAsync();
        client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
    }

    public async Task DisposeAsync()
    {
        client.Dispose();
        await app.DisposeAsync();
    }

    [Fact]
    public async Task A_100_kb_query_is_414_problem_details()
    {
        using var response = await client.GetAsync(new Uri("/items/x?q=" + new string('a', 100 * 1024), UriKind.Relative));

        await AssertProblemAsync(response, HttpStatusCode.RequestUriTooLong, ProblemTypes.UriTooLong);
    }

    [Fact]
    public async Task Thousands_of_query_parameters_are_refused_with_problem_details()
    {
        var query = string.Join('&', Enumerable.Range(0, 2000).Select(i => $"p{i}=1"));

        using var response = await client.GetAsync(new Uri("/items/x?" + query, UriKind.Relative));

        await AssertProblemAsync(response, HttpStatusCode.RequestUriTooLong, ProblemTypes.UriTooLong);
    }

    [Fact]
    public async Task Too_many_headers_are_431_problem_details()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/items/x");
        for (var i = 0; i < RequestSizeLimits.MaxHeaderCount + 20; i++)
        {
            request.Headers.Add($"X-Extra-{i}", "1");
        }

        using var response = await client.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.RequestHeaderFieldsTooLarge, ProblemTypes.HeadersTooLarge);
    }

    [Fact]
    public async Task A_normal_request_passes()
    {
        using var response = await client.GetAsync(new Uri("/items/x?q=1&r=2", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(type, JsonSerializer.Deserialize<JsonElement>(text).GetProperty("type").GetString());
    }
}
