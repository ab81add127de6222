using System.Text.Json;
using Agents.Testing;

namespace Agents.EndToEnd.Tests.Mcp;

/// <summary>
/// The platform as an MCP server, seen by another ecosystem's client: the official TypeScript SDK's client
/// (<c>typescript-client.cjs</c>, run by Node.js) against the gateway's /mcp, with the API key as a header.
/// </summary>
[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class McpTypeScriptClientTests(PlatformFixture platform) : IAsyncLifetime
{
    public Task InitializeAsync() => McpEndpointTests.WritePolicyAsync(platform);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_typescript_sdk_client_lists_the_callers_tools_and_calls_one()
    {
        var frank = await RunClientAsync(PlatformFixture.FrankKey, "mcp.everything.echo", """{"message":"from TypeScript"}""");

        var tools = Names(frank);
        Assert.Contains("mcp.everything.echo", tools);
        Assert.All(tools, name => Assert.StartsWith("mcp.everything.", name, StringComparison.Ordinal));
        Assert.True(frank.GetProperty("tools").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "mcp.everything.echo")
            .GetProperty("readOnlyHint").GetBoolean());

        var call = frank.GetProperty("call");
        Assert.False(call.TryGetProperty("isError", out var isError) && isError.GetBoolean(), call.ToString());
        var text = Assert.Single(call.GetProperty("content").EnumerateArray());
        Assert.Equal("text", text.GetProperty("type").GetString());
        Assert.Contains("Echo: from TypeScript", text.GetProperty("text").GetString(), StringComparison.Ordinal);
        var taskId = Guid.Parse(call.GetProperty("_meta").GetProperty("agents/taskId").GetString()!);
        using var http = platform.CreateClient(PlatformFixture.FrankKey);
        var task = await TaskClient.GetAsync(http, taskId);
        Assert.Equal("Completed", TaskClient.Status(task));
        Assert.Equal("mcp.everything.echo", task.GetProperty("steps")[0].GetProperty("tool").GetString());
    }

    [Fact]
    public async Task Another_tenants_key_sees_only_its_own_tools_through_the_typescript_client()
    {
        var alice = await RunClientAsync(PlatformFixture.AliceKey);

        Assert.Equal(["crm.lookup-customer", "tickets.create", "web.fetch"], Names(alice).Order(StringComparer.Ordinal));
    }

    private static List<string> Names(JsonElement output) =>
        [.. output.GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("name").GetString()!)];

    private async Task<JsonElement> RunClientAsync(string apiKey, params string[] call)
    {
        var run = await NodeProcess.RunAsync(
            TimeSpan.FromMinutes(4),
            [NodeProcess.Script("typescript-client.cjs"), McpServers.InstallDirectory, new Uri(platform.GatewayAddress, "mcp").ToString(), apiKey, .. call]);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var document = JsonDocument.Parse(run.Out);
        return document.RootElement.Clone();
    }
}
