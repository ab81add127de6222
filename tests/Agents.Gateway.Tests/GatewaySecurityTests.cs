using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Agents.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Agents.Gateway.Tests;

[Trait("Category", "Infrastructure")]
public sealed class GatewaySecurityTests
{
    private const string AliceKey = "demo-alice-agent-user-key";
    private const string DaveKey = "acme-dave-agent-user-key";
    private const string JwtKey = "gateway-tests-jwt-key-0123456789abcdef-0123456789";

    [Fact]
    public async Task A_request_without_credentials_gets_401_problem_details()
    {
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(new Uri("/api/tasks", UriKind.Relative));

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "https://agents.dev/problems/unauthenticated");
    }

    [Fact]
    public async Task A_wrong_api_key_gets_401_problem_details()
    {
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", "not-a-key");

        using var response = await client.GetAsync(new Uri("/api/tasks", UriKind.Relative));

        var problem = await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "https://agents.dev/problems/unauthenticated");
        Assert.Equal("The credentials are not valid.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_valid_key_is_forwarded_as_a_signed_principal_and_credentials_and_spoofed_headers_are_dropped()
    {
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/tasks/123");
        request.Headers.Add("X-Api-Key", AliceKey);
        request.Headers.Add("X-Agents-Principal", "forged.signature");
        request.Headers.Add("X-Agents-Spoofed", "yes");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var echo = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("demo", echo.GetProperty("tenant").GetString());
        Assert.Equal("alice", echo.GetProperty("user").GetString());
        Assert.Equal(["agent-user"], echo.GetProperty("roles").EnumerateArray().Select(r => r.GetString() ?? string.Empty).ToArray());
        Assert.False(echo.GetProperty("apiKeyForwarded").GetBoolean());
        Assert.False(echo.GetProperty("authorizationForwarded").GetBoolean());
        Assert.Equal(string.Empty, echo.GetProperty("spoofed").GetString());
    }

    [Fact]
    public async Task A_backend_rejects_a_request_that_bypasses_the_gateway()
    {
        await using var backend = await EchoBackend.StartAsync();
        using var direct = new HttpClient { BaseAddress = new Uri(backend.Urls.First()) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/tasks");
        request.Headers.Add("X-Agents-Principal", "eyJ0ZW5hbnQiOiJkZW1vIn0.AAAA");

        using var response = await direct.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, "https://agents.dev/problems/unauthenticated");
    }

    [Fact]
    public async Task A_tenant_over_its_token_bucket_gets_429_with_retry_after_while_another_tenant_is_served()
    {
        await using var backend = await EchoBackend.StartAsync();
        var settings = EchoBackend.Settings(backend);
        settings["Gateway:RateLimits:tasks:TokenLimit"] = "3";
        settings["Gateway:RateLimits:tasks:TokensPerPeriod"] = "1";
        settings["Gateway:RateLimits:tasks:ReplenishmentPeriod"] = "00:01:00";
        await using var factory = new ServiceFactory<Program>(settings);
        using var alice = factory.CreateClient();
        alice.DefaultRequestHeaders.Add("X-Api-Key", AliceKey);
        using var dave = factory.CreateClient();
        dave.DefaultRequestHeaders.Add("X-Api-Key", DaveKey);

        for (var i = 0; i < 3; i++)
        {
            using var ok = await alice.GetAsync(new Uri("/api/tasks", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var limited = await alice.GetAsync(new Uri("/api/tasks", UriKind.Relative));
        await AssertProblemAsync(limited, HttpStatusCode.TooManyRequests, "https://agents.dev/problems/rate-limited");
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);

        using var otherTenant = await dave.GetAsync(new Uri("/api/tasks", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, otherTenant.StatusCode);
    }

    [Fact]
    public async Task An_oversized_body_gets_413_problem_details_and_is_not_forwarded()
    {
        await using var backend = await EchoBackend.StartAsync();
        var settings = EchoBackend.Settings(backend);
        settings["Gateway:MaxRequestBodyBytes"] = "2048";
        await using var factory = new ServiceFactory<Program>(settings);
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", AliceKey);

        using var response = await client.PostAsync(new Uri("/api/tasks", UriKind.Relative), new StringContent(new string('x', 4096), Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "https://agents.dev/problems/payload-too-large");
    }

    [Fact]
    public async Task A_chunked_body_over_the_limit_gets_413_not_a_backend_error()
    {
        await using var backend = await EchoBackend.StartAsync();
        var settings = EchoBackend.Settings(backend);
        settings["Gateway:MaxRequestBodyBytes"] = "2048";
        await using var factory = new ServiceFactory<Program>(settings);
        factory.UseKestrel(0);
        factory.StartServer();
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", AliceKey);

        // No Content-Length: the size is only known while the body streams, after forwarding has started.
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(new string('x', 64 * 1024))));
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/tasks") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await client.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "https://agents.dev/problems/payload-too-large");
    }

    [Fact]
    public async Task A_header_with_non_ascii_text_gets_400_naming_the_header_not_a_backend_error()
    {
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/tasks");
        request.Headers.Add("X-Api-Key", AliceKey);
        Assert.True(request.Headers.TryAddWithoutValidation("X-Note", "caf\u00e9 \u2603"));

        using var response = await client.SendAsync(request);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "https://agents.dev/problems/validation");
        Assert.Contains("X-Note", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/tasks/%01")]
    [InlineData("/api/tasks/a%1Fb/log")]
    [InlineData("/api/governance/policy%7F")]
    public async Task A_path_with_a_control_character_gets_400_and_is_not_forwarded(string path)
    {
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Api-Key", AliceKey);

        using var response = await client.SendAsync(request);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "https://agents.dev/problems/validation");
        Assert.Contains("control character", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nul-in-path", 400, "https://agents.dev/problems/malformed-request")]
    [InlineData("request-line-beyond-kestrel", 414, "https://agents.dev/problems/uri-too-long")]
    [InlineData("query-of-thousands-of-parameters", 414, "https://agents.dev/problems/uri-too-long")]
    [InlineData("headers-beyond-kestrel", 431, "https://agents.dev/problems/headers-too-large")]
    [InlineData("header-without-a-colon", 400, "https://agents.dev/problems/malformed-request")]
    public async Task Requests_the_server_refuses_before_the_pipeline_get_problem_details(string kind, int status, string type)
    {
        await using var backend = await EchoBackend.StartAsync();
        await using var factory = new ServiceFactory<Program>(EchoBackend.Settings(backend));
        factory.UseKestrel(0);
        factory.StartServer();
        using var client = factory.CreateClient();
        await using var raw = await RawHttp.ConnectAsync(client.BaseAddress!);
        var key = "X-Api-Key: " + AliceKey;

        var response = kind switch
        {
            "nul-in-path" => await raw.SendAsync("GET", "/api/tasks/a%00b", key),
            "request-line-beyond-kestrel" => await raw.SendAsync("GET", "/api/tasks?q=" + new string('a', 300 * 1024), key),
            "query-of-thousands-of-parameters" => await raw.SendAsync("GET", "/api/tasks?" + string.Join('&', Enumerable.Range(0, 30_000).Select(i => $"p{i}=1")), key),
            "headers-beyond-kestrel" => await raw.SendAsync("GET", "/api/tasks", [key, .. Enumerable.Range(0, 1000).Select(i => $"X-Extra-{i}: 1")]),
            _ => await raw.SendAsync("GET", "/api/tasks", key, "X-Broken header"),
        };

        Assert.True(status == response.Status, $"{response.Status}: {response.Body}");
        Assert.Equal("application/problem+json", response.ContentType);
        var problem = JsonSerializer.Deserialize<JsonElement>(response.Body);
        Assert.Equal(type, problem.GetProperty("type").GetString());
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
    }

    [Fact]
    public async Task An_unreachable_backend_gets_problem_details_naming_the_service()
    {
        await using var backend = await EchoBackend.StartAsync();
        var settings = EchoBackend.Settings(backend);
        settings["ReverseProxy:Clusters:executor:Destinations:executor-1:Address"] = $"http://127.0.0.1:{TestInfrastructure.ClosedPort()}/";
        await using var factory = new ServiceFactory<Program>(settings);
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", AliceKey);

        using var response = await client.GetAsync(new Uri("/api/tasks", UriKind.Relative));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadGateway, "https://agents.dev/problems/unavailable");
        Assert.Contains("executor", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task A_valid_jwt_is_accepted_and_one_without_a_tenant_is_refused()
    {
        await using var backend = await EchoBackend.StartAsync();
        var settings = EchoBackend.Settings(backend);
        settings["Gateway:Jwt:SigningKey"] = JwtKey;
        settings["Gateway:Jwt:Issuer"] = "https://idp.test";
        settings["Gateway:Jwt:Audience"] = "agents";
        await using var factory = new ServiceFactory<Program>(settings);
        using var client = factory.CreateClient();

        client.DefaultRequestHeaders.Authorization = new("Bearer", Token(new Claim("sub", "erin"), new Claim("tenant", "acme"), new Claim("roles", "approver")));
        using var accepted = await client.GetAsync(new Uri("/api/tasks", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        var echo = await accepted.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("acme", echo.GetProperty("tenant").GetString());
        Assert.Equal("erin", echo.GetProperty("user").GetString());

        client.DefaultRequestHeaders.Authorization = new("Bearer", Token(new Claim("sub", "erin")));
        using var refused = await client.GetAsync(new Uri("/api/tasks", UriKind.Relative));
        await AssertProblemAsync(refused, HttpStatusCode.Unauthorized, "https://agents.dev/problems/unauthenticated");
    }

    private static string Token(params Claim[] claims) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Subject = new ClaimsIdentity(claims),
        Issuer = "https://idp.test",
        Audience = "agents",
        Expires = DateTime.UtcNow.AddMinutes(5),
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(JwtKey)), SecurityAlgorithms.HmacSha256),
    });

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(type, problem.GetProperty("type").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }
}
