using Agents.Testing;
using Agents.Tools.Mcp;
using Agents.Tools.Sdk.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Tools.Tests;

/// <summary>
/// The MCP tool host with a FAKE MCP server (<c>Fakes/fake-mcp-server.mjs</c>, run by Node.js): a server that changes its
/// tool list on demand and announces it, crashes mid-call on demand, and refuses to start while a marker file exists.
/// The real npm servers offer none of these on demand. The tool-gateway's circuit counts what this host answers as
/// transient (its own tests open the circuit on transient failures: <c>CircuitBreakerTests</c>).
/// </summary>
public sealed class FakeMcpServerFixture : IAsyncLifetime
{
    public ToolService<McpOptions> Service { get; private set; } = null!;

    public string State { get; } = Directory.CreateTempSubdirectory("agents-fake-mcp-").FullName;

    public RuntimeToolCatalog Catalog => Service.Factory.Services.GetRequiredService<RuntimeToolCatalog>();

    public string RefuseStartMarker => Path.Combine(State, "refuse-start");

    public async Task InitializeAsync()
    {
        Service = await ToolService<McpOptions>.StartAsync(
            "mcp",
            sp => sp.MigrateMcpAsync(),
            new()
            {
                ["Mcp:ReconnectDelay"] = "00:00:00.200",
                ["Mcp:Servers:fake:Command"] = "node",
                ["Mcp:Servers:fake:Arguments:0"] = Path.Combine(AppContext.BaseDirectory, "Fakes", "fake-mcp-server.mjs"),
                ["Mcp:Servers:fake:Arguments:1"] = State,
            });
        await Poll.UntilAsync(() => Catalog.Tools.Any(t => t.Name == "mcp.fake.write"), TimeSpan.FromSeconds(60), "the fake server's tools");
    }

    public async Task DisposeAsync()
    {
        await Service.DisposeAsync();
        Directory.Delete(State, recursive: true);
    }
}

[Trait("Category", "Infrastructure")]
public sealed class McpFakeServerTests(FakeMcpServerFixture fixture) : IClassFixture<FakeMcpServerFixture>
{
    private ToolService<McpOptions> Service => fixture.Service;

    [Fact]
    public async Task A_tool_the_server_adds_and_announces_with_tools_list_changed_is_offered_and_runs()
    {
        Assert.DoesNotContain(fixture.Catalog.Tools, t => t.Name == "mcp.fake.extra");

        var added = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.fake.add-tool", "{}"));
        Assert.True(added.Succeeded, added.Error);

        // Nothing but the server's notification tells the host to list the tools again.
        await Poll.UntilAsync(() => fixture.Catalog.Tools.Any(t => t.Name == "mcp.fake.extra"), TimeSpan.FromSeconds(30), "the added tool");
        var extra = fixture.Catalog.Tools.Single(t => t.Name == "mcp.fake.extra");
        Assert.Equal(Agents.Contracts.SideEffectClass.ReadOnly, extra.SideEffect);
        var result = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.fake.extra", """{"text":"hi"}"""));
        Assert.True(result.Succeeded, result.Error);
        Assert.Contains("extra: hi", result.OutputJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_crashes_mid_call_and_then_at_start_fails_calls_per_their_class_until_it_starts_again()
    {
        // Mid-call: a read-only call may run again (transient); a mutating one's effect is unknown (permanent).
        var readOnly = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.fake.echo", """{"text":"a","crash":true}"""));
        Assert.False(readOnly.Succeeded);
        Assert.True(readOnly.Transient, readOnly.Error);
        Assert.Contains("MCP server 'fake' stopped during the call of 'echo'", readOnly.Error, StringComparison.Ordinal);

        var mutating = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.fake.write", """{"text":"b","crash":true}"""));
        Assert.False(mutating.Succeeded);
        Assert.False(mutating.Transient, mutating.Error);
        Assert.Contains("whether it took effect is unknown", mutating.Error, StringComparison.Ordinal);

        // Now it crashes at start: nothing is called, so every class fails transiently (the gateway retries what it
        // may, and these failures count towards the tool's circuit).
        await File.WriteAllTextAsync(fixture.RefuseStartMarker, "stop");
        try
        {
            await CrashAsync();
            foreach (var tool in new[] { "mcp.fake.echo", "mcp.fake.write" })
            {
                var refused = await Service.SendAsync(ToolService<McpOptions>.Call(tool, """{"text":"c"}"""));
                Assert.False(refused.Succeeded);
                Assert.True(refused.Transient, refused.Error);
                Assert.Contains("MCP server 'fake' could not be reached", refused.Error, StringComparison.Ordinal);
                Assert.Contains("was not called", refused.Error, StringComparison.Ordinal);
            }

            // Its tools stay offered while it is down (the registry marks them stale only if the host stops announcing).
            Assert.Contains(fixture.Catalog.Tools, t => t.Name == "mcp.fake.write");
        }
        finally
        {
            File.Delete(fixture.RefuseStartMarker);
        }

        var back = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.fake.write", """{"text":"d"}"""));
        Assert.True(back.Succeeded, back.Error);
        Assert.Contains("written: d", back.OutputJson, StringComparison.Ordinal);
    }

    /// <summary>Ends the running server (a crash mid-call), so the next call has to start it again.</summary>
    private async Task CrashAsync()
    {
        var crashed = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.fake.echo", """{"crash":true}"""));
        Assert.False(crashed.Succeeded);
    }
}
