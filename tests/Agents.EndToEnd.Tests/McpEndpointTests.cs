using System.Collections.Concurrent;
using System.Net;
using System.Text;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Agents.EndToEnd.Tests;

/// <summary>The platform as an MCP server: the official C# MCP client against the gateway's /mcp endpoint.</summary>
[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class McpEndpointTests(PlatformFixture platform) : IAsyncLifetime
{
    // mcpco's agent users may call the tools of the MCP server "everything" (held by scope mcp.everything);
    // every mutating call needs a person.
    internal const string Policy = """
        {
          "enabled": true,
          "adminRole": "admin",
          "approverRoles": ["approver"],
          "roles": { "agent-user": { "tools": ["mcp.everything.*"], "scopes": ["mcp.everything"] } },
          "approvalRules": [ { "sideEffect": "Mutating" } ]
        }
        """;

    public Task InitializeAsync() => WritePolicyAsync(platform);

    /// <summary>Writes <see cref="Policy"/> as mcpco's policy (the same document for every MCP client test).</summary>
    internal static async Task WritePolicyAsync(PlatformFixture platform)
    {
        using var frank = platform.CreateClient(PlatformFixture.FrankKey);
        using var put = await frank.PutAsync(new Uri("api/governance/policy", UriKind.Relative), new StringContent(Policy, Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, $"PUT policy answered {(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Tools_list_shows_what_the_callers_policy_grants_and_another_tenant_sees_only_its_own()
    {
        await using var frank = await ConnectAsync(PlatformFixture.FrankKey);
        await using var alice = await ConnectAsync(PlatformFixture.AliceKey);

        var frankTools = (await frank.ListToolsAsync()).Select(t => t.Name).ToList();
        var aliceTools = (await alice.ListToolsAsync()).Select(t => t.Name).ToList();

        Assert.Contains("mcp.everything.echo", frankTools);
        Assert.All(frankTools, name => Assert.StartsWith("mcp.everything.", name, StringComparison.Ordinal));
        Assert.Equal(["crm.lookup-customer", "tickets.create", "web.fetch"], aliceTools.Order(StringComparer.Ordinal));

        var echo = (await frank.ListToolsAsync()).Single(t => t.Name == "mcp.everything.echo").ProtocolTool;
        Assert.True(echo.Annotations?.ReadOnlyHint);
        Assert.Equal("string", echo.InputSchema.GetProperty("properties").GetProperty("message").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Tools_call_runs_a_governed_task_and_answers_the_tools_output_with_progress()
    {
        await using var frank = await ConnectAsync(PlatformFixture.FrankKey);
        var progress = new ConcurrentQueue<ProgressNotificationValue>();

        var result = await frank.CallToolAsync(
            "mcp.everything.echo",
            new Dictionary<string, object?> { ["message"] = "over MCP" },
            new Progress(progress));

        Assert.NotEqual(true, result.IsError);
        var text = Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
        Assert.Contains("Echo: over MCP", text, StringComparison.Ordinal);
        var taskId = Guid.Parse(result.Meta!["agents/taskId"]!.GetValue<string>());
        using var http = platform.CreateClient(PlatformFixture.FrankKey);
        var task = await TaskClient.GetAsync(http, taskId);
        Assert.Equal("Completed", TaskClient.Status(task));
        Assert.Equal("mcp.everything.echo", task.GetProperty("steps")[0].GetProperty("tool").GetString());
        Assert.NotEmpty(progress);
        Assert.Contains(progress, p => p.Message!.Contains(taskId.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_call_that_needs_approval_answers_pending_naming_its_task_and_approval()
    {
        await using var frank = await ConnectAsync(PlatformFixture.FrankKey);

        // toggle-simulated-logging is neither read-only nor idempotent: Mutating (Medium: not destructive).
        var result = await frank.CallToolAsync("mcp.everything.toggle-simulated-logging", new Dictionary<string, object?>());

        Assert.NotEqual(true, result.IsError);
        var meta = result.Meta!;
        Assert.Equal("pending-approval", meta["agents/status"]!.GetValue<string>());
        var taskId = Guid.Parse(meta["agents/taskId"]!.GetValue<string>());
        var approvalId = Guid.Parse(meta["agents/approvalId"]!.GetValue<string>());
        var text = Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
        Assert.Contains($"approval {approvalId}", text, StringComparison.Ordinal);
        using var http = platform.CreateClient(PlatformFixture.FrankKey);
        var task = await TaskClient.GetAsync(http, taskId);
        Assert.Equal("AwaitingApproval", TaskClient.Status(task));
        Assert.Equal(approvalId, task.GetProperty("steps")[0].GetProperty("approvalId").GetGuid());
    }

    [Fact]
    public async Task A_call_the_policy_does_not_grant_is_an_error_result_saying_so()
    {
        await using var alice = await ConnectAsync(PlatformFixture.AliceKey);

        var result = await alice.CallToolAsync("mcp.everything.echo", new Dictionary<string, object?> { ["message"] = "not mine" });

        Assert.True(result.IsError);
        var text = Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
        Assert.Contains("mcp.everything.echo", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_key_the_endpoint_answers_401()
    {
        using var anonymous = new HttpClient { BaseAddress = platform.GatewayAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, "mcp")
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");

        using var response = await anonymous.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_browser_page_from_another_origin_is_refused_even_with_a_key_and_this_machines_own_origin_is_not()
    {
        async Task<HttpResponseMessage> ListFromAsync(string origin)
        {
            using var client = platform.CreateClient(PlatformFixture.FrankKey);
            using var request = new HttpRequestMessage(HttpMethod.Post, "mcp")
            {
                Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Accept.ParseAdd("application/json, text/event-stream");
            request.Headers.Add("Origin", origin);
            return await client.SendAsync(request);
        }

        // A page on a rebound name (DNS rebinding): its browser sends the page's origin; nothing runs.
        using var rebound = await ListFromAsync("http://attacker.example:5000");
        Assert.Equal(HttpStatusCode.Forbidden, rebound.StatusCode);
        Assert.Equal("application/problem+json", rebound.Content.Headers.ContentType?.MediaType);
        Assert.Contains("attacker.example", await rebound.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var local = await ListFromAsync("http://localhost:6274");
        Assert.Equal(HttpStatusCode.OK, local.StatusCode);
        Assert.Contains("mcp.everything.echo", await local.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private Task<McpClient> ConnectAsync(string apiKey) => McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
    {
        Endpoint = new Uri(platform.GatewayAddress, "mcp"),
        TransportMode = HttpTransportMode.StreamableHttp,
        AdditionalHeaders = new Dictionary<string, string> { ["X-Api-Key"] = apiKey },
    }));

    private sealed class Progress(ConcurrentQueue<ProgressNotificationValue> values) : IProgress<ProgressNotificationValue>
    {
        public void Report(ProgressNotificationValue value) => values.Enqueue(value);
    }
}
