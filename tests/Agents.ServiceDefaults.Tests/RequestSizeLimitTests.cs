using System.Net;
using System.Text.Json;
using Agents.ServiceDefaults.Http;
using Agents.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Agents.ServiceDefaults.Tests;

/// <summary>Refusals of the request line and headers carry problem details, on a real Kestrel server.</summary>
[Trait("Category", "Unit")]
public sealed class RequestSizeLimitTests : IAsyncLifetime
{
    private DefaultsHost host = null!;

    public async Task InitializeAsync() =>
        host = await DefaultsHost.StartAsync(app => app.MapGet("/items/{id}", (string id) => Results.Ok(new { id })), kestrel: true);

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    public async Task A_100_kb_query_is_414_problem_details()
    {
        using var response = await host.Client.GetAsync(new Uri("/items/x?q=" + new string('a', 100 * 1024), UriKind.Relative));

        await AssertProblemAsync(response, HttpStatusCode.RequestUriTooLong, ProblemTypes.UriTooLong);
    }

    [Fact]
    public async Task Thousands_of_query_parameters_are_refused_with_problem_details()
    {
        var query = string.Join('&', Enumerable.Range(0, 2000).Select(i => $"p{i}=1"));

        using var response = await host.Client.GetAsync(new Uri("/items/x?" + query, UriKind.Relative));

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

        using var response = await host.Client.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.RequestHeaderFieldsTooLarge, ProblemTypes.HeadersTooLarge);
    }

    [Fact]
    public async Task A_normal_request_passes()
    {
        using var response = await host.Client.GetAsync(new Uri("/items/x?q=1&r=2", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_nul_in_the_path_refused_by_kestrel_is_400_problem_details()
    {
        await using var raw = await RawHttp.ConnectAsync(new Uri(host.App.Urls.First()));

        var response = await raw.SendAsync("GET", "/items/a%00b");

        AssertRawProblem(response, 400, ProblemTypes.MalformedRequest);
        Assert.Contains("%00", Json(response).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_line_beyond_kestrels_own_limit_is_414_problem_details()
    {
        await using var raw = await RawHttp.ConnectAsync(new Uri(host.App.Urls.First()));

        var response = await raw.SendAsync("GET", "/items/x?q=" + new string('a', 300 * 1024));

        AssertRawProblem(response, 414, ProblemTypes.UriTooLong);
    }

    [Fact]
    public async Task Headers_beyond_kestrels_own_limits_are_431_problem_details()
    {
        await using var raw = await RawHttp.ConnectAsync(new Uri(host.App.Urls.First()));

        var response = await raw.SendAsync("GET", "/items/x", [.. Enumerable.Range(0, 1000).Select(i => $"X-Extra-{i}: 1")]);

        AssertRawProblem(response, 431, ProblemTypes.HeadersTooLarge);
    }

    [Fact]
    public async Task The_applications_answers_on_a_connection_pass_untouched_and_a_later_refusal_gets_its_body()
    {
        await using var raw = await RawHttp.ConnectAsync(new Uri(host.App.Urls.First()));

        var found = await raw.SendAsync("GET", "/items/x");
        var head = await raw.SendAsync("HEAD", "/nothing-here");
        var refused = await raw.SendAsync("GET", "/items/%00");

        Assert.Equal(200, found.Status);
        Assert.Equal("x", Json(found).GetProperty("id").GetString());
        Assert.Equal(404, head.Status);
        Assert.Equal("", head.Body);
        AssertRawProblem(refused, 400, ProblemTypes.MalformedRequest);
        Assert.Equal("close", refused.Headers["Connection"]);
    }

    [Fact]
    public void Only_a_bare_error_head_is_replaced()
    {
        static byte[] Bytes(string text) => System.Text.Encoding.ASCII.GetBytes(text);

        Assert.NotNull(KestrelRejections.ProblemResponseFor(Bytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")));
        Assert.Null(KestrelRejections.ProblemResponseFor(Bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")));
        Assert.Null(KestrelRejections.ProblemResponseFor(Bytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}")));
        Assert.Null(KestrelRejections.ProblemResponseFor(Bytes("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n")));
        Assert.Null(KestrelRejections.ProblemResponseFor(Bytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n")));
    }

    private static JsonElement Json(RawResponse response) => JsonSerializer.Deserialize<JsonElement>(response.Body);

    private static void AssertRawProblem(RawResponse response, int status, string type)
    {
        Assert.True(status == response.Status, $"{response.Status}: {response.Body}");
        Assert.Equal("application/problem+json", response.ContentType);
        var problem = Json(response);
        Assert.Equal(type, problem.GetProperty("type").GetString());
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(type, JsonSerializer.Deserialize<JsonElement>(text).GetProperty("type").GetString());
    }
}
