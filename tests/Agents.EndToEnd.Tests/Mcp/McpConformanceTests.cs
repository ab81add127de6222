using System.Diagnostics;
using System.Text.Json;
using Agents.Testing;
using Xunit.Abstractions;

namespace Agents.EndToEnd.Tests.Mcp;

/// <summary>
/// The MCP conformance suite's server checks (<c>@modelcontextprotocol/conformance</c>, pinned by infra/mcp-servers.sh)
/// against the gateway's /mcp. The suite's client sends no custom header, so it goes through
/// <c>forward-with-key.cjs</c>, which adds the caller's API key. The scenarios listed here pass today and must keep
/// passing; the others, and why they do not apply, are listed in the README ("MCP, both ways").
/// </summary>
[Collection(PlatformCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class McpConformanceTests(PlatformFixture platform, ITestOutputHelper output) : IAsyncLifetime
{
    public static readonly TheoryData<string> PassingToday = new()
    {
        "server-initialize",
        "ping",
        "logging-set-level",
        "tools-list",
        "tools-call-error",
        "dns-rebinding-protection",
    };

    private Process? _forwarder;
    private string _url = "";

    public async Task InitializeAsync()
    {
        await McpEndpointTests.WritePolicyAsync(platform);
        (_forwarder, _url) = await NodeProcess.StartAsync(
            NodeProcess.Script("forward-with-key.cjs"), new Uri(platform.GatewayAddress, "mcp").ToString(), PlatformFixture.FrankKey);
    }

    public Task DisposeAsync()
    {
        if (_forwarder is not null)
        {
            _forwarder.Kill(entireProcessTree: true);
            _forwarder.Dispose();
        }

        return Task.CompletedTask;
    }

    [Theory]
    [MemberData(nameof(PassingToday))]
    public async Task A_conformance_scenario_that_passes_today_keeps_passing(string scenario)
    {
        var checks = await RunScenarioAsync(scenario);

        Assert.NotEmpty(checks);
        Assert.All(checks, check => Assert.True(check.Status == "SUCCESS", $"{scenario}: {check}"));
    }

    private async Task<List<Check>> RunScenarioAsync(string scenario)
    {
        var results = Directory.CreateTempSubdirectory("agents-conformance-").FullName;
        try
        {
            var run = await NodeProcess.RunAsync(
                TimeSpan.FromMinutes(3),
                McpServers.Executable("conformance"), "server", "--url", _url, "--scenario", scenario, "-o", results);
            output.WriteLine(run.ToString());
            var file = Directory.GetFiles(results, "checks.json", SearchOption.AllDirectories);
            Assert.True(file.Length == 1, $"conformance wrote no checks.json for {scenario}: {run}");
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(file[0]));
            return [.. document.RootElement.EnumerateArray().Select(c => new Check(
                c.GetProperty("id").GetString()!,
                c.GetProperty("status").GetString()!,
                c.TryGetProperty("errorMessage", out var error) ? error.GetString() : null))];
        }
        finally
        {
            Directory.Delete(results, recursive: true);
        }
    }

    private sealed record Check(string Id, string Status, string? Error);
}
