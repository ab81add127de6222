using System.Diagnostics;
using System.Text.Json;
using Agents.Contracts;
using Agents.Testing;
using Agents.Tools.Mcp;
using Agents.Tools.Sdk.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Tools.Tests;

/// <summary>
/// The MCP tool host with the real npm servers: server-everything (twice: the second one's slow tool is
/// configured as mutating) and server-filesystem over stdio, each started through a shell that records
/// its process id so a test can stop it mid-call, and server-everything over Streamable HTTP.
/// </summary>
public sealed class McpFixture : IAsyncLifetime
{
    public ToolService<McpOptions> Service { get; private set; } = null!;

    public string Files { get; } = Directory.CreateTempSubdirectory("agents-mcp-files-").FullName;

    public string PidFiles { get; } = Directory.CreateTempSubdirectory("agents-mcp-pids-").FullName;

    public RuntimeToolCatalog Catalog => Service.Factory.Services.GetRequiredService<RuntimeToolCatalog>();

    /// <summary>server-everything serving Streamable HTTP, started by this fixture.</summary>
    private Process? remote;

    public async Task InitializeAsync()
    {
        var everything = McpServers.Executable("mcp-server-everything");
        var port = TestInfrastructure.ClosedPort();
        remote = Process.Start(new ProcessStartInfo(everything, ["streamableHttp"])
        {
            Environment = { ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        }) ?? throw new InvalidOperationException("mcp-server-everything did not start.");
        var listening = new TaskCompletionSource();
        remote.ErrorDataReceived += (_, line) =>
        {
            if (line.Data?.Contains($"listening on port {port}", StringComparison.Ordinal) == true)
            {
                listening.TrySetResult();
            }
        };
        remote.BeginErrorReadLine();
        remote.BeginOutputReadLine();
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Service = await ToolService<McpOptions>.StartAsync(
            "mcp",
            sp => sp.MigrateMcpAsync(),
            new()
            {
                ["Mcp:ReconnectDelay"] = "00:00:00.500",
                ["Mcp:Servers:everything:Command"] = "bash",
                ["Mcp:Servers:everything:Arguments:0"] = "-c",
                ["Mcp:Servers:everything:Arguments:1"] = $"echo $$ > '{PidFiles}/everything'; exec '{everything}' stdio",
                ["Mcp:Servers:slow:Command"] = "bash",
                ["Mcp:Servers:slow:Arguments:0"] = "-c",
                ["Mcp:Servers:slow:Arguments:1"] = $"echo $$ > '{PidFiles}/slow'; exec '{everything}' stdio",
                ["Mcp:Servers:slow:Tools:trigger-long-running-operation:SideEffect"] = "Mutating",
                ["Mcp:Servers:slow:Tools:echo:Enabled"] = "false",
                ["Mcp:Servers:filesystem:Command"] = McpServers.Executable("mcp-server-filesystem"),
                ["Mcp:Servers:filesystem:Arguments:0"] = Files,
                ["Mcp:Servers:filesystem:Scope"] = "files.write",
                ["Mcp:Servers:remote:Url"] = $"http://127.0.0.1:{port}/mcp",
            });
        await Poll.UntilAsync(
            () => Catalog.Tools.Count(t => t.Name.StartsWith("mcp.", StringComparison.Ordinal)) >= 40 && Catalog.Tools.Any(t => t.Name == "mcp.remote.echo"),
            TimeSpan.FromSeconds(60), "the four servers' tools");
    }

    public async Task DisposeAsync()
    {
        await Service.DisposeAsync();
        if (remote is not null)
        {
            remote.Kill(entireProcessTree: true);
            await remote.WaitForExitAsync();
            remote.Dispose();
        }

        Directory.Delete(Files, recursive: true);
        Directory.Delete(PidFiles, recursive: true);
    }

    public RuntimeTool Tool(string name) => Catalog.Tools.Single(t => t.Name == name);
}

[Trait("Category", "Infrastructure")]
public sealed class McpTests(McpFixture fixture) : IClassFixture<McpFixture>
{
    private ToolService<McpOptions> Service => fixture.Service;

    [Fact]
    public void Every_tool_of_the_servers_is_offered_with_its_schema_and_the_class_its_annotations_give()
    {
        var echo = fixture.Tool("mcp.everything.echo");
        Assert.Equal(SideEffectClass.ReadOnly, echo.SideEffect);
        Assert.Equal(RiskTier.Low, echo.Risk);
        Assert.Equal("mcp.everything", echo.Scope);
        Assert.True(echo.ReturnsUntrustedContent);
        Assert.Equal("string", echo.InputSchema["properties"]!["message"]!["type"]!.GetValue<string>());

        var write = fixture.Tool("mcp.filesystem.write_file");
        Assert.Equal(SideEffectClass.Mutating, write.SideEffect);
        Assert.Equal(RiskTier.High, write.Risk);
        Assert.Equal("files.write", write.Scope);
        Assert.NotNull(write.OutputSchema!["properties"]!["structuredContent"]);

        Assert.Equal(SideEffectClass.ReadOnly, fixture.Tool("mcp.filesystem.read_text_file").SideEffect);
        Assert.Equal(SideEffectClass.Idempotent, fixture.Tool("mcp.filesystem.create_directory").SideEffect);
        Assert.Equal(SideEffectClass.Mutating, fixture.Tool("mcp.everything.toggle-simulated-logging").SideEffect);
    }

    [Fact]
    public void Configuration_overrides_the_annotations_and_can_leave_a_tool_out()
    {
        Assert.Equal(SideEffectClass.ReadOnly, fixture.Tool("mcp.everything.trigger-long-running-operation").SideEffect);
        Assert.Equal(SideEffectClass.Mutating, fixture.Tool("mcp.slow.trigger-long-running-operation").SideEffect);
        Assert.DoesNotContain(fixture.Catalog.Tools, t => t.Name == "mcp.slow.echo");
        Assert.Contains(fixture.Catalog.Tools, t => t.Name == "mcp.slow.get-sum");
    }

    [Fact]
    public async Task A_read_only_tool_runs_over_the_bus_once_per_key()
    {
        var key = "key-" + Guid.NewGuid().ToString("N");

        var first = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.everything.echo", """{"message":"hello from the platform"}""", key));
        var second = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.everything.echo", """{"message":"hello from the platform"}""", key));

        Assert.True(first.Succeeded, first.Error);
        using var output = JsonDocument.Parse(first.OutputJson!);
        var block = output.RootElement.GetProperty("content")[0];
        Assert.Equal("text", block.GetProperty("type").GetString());
        Assert.Equal("Echo: hello from the platform", block.GetProperty("text").GetString());
        Assert.True(second.Replayed);
        Assert.Equal(first.OutputJson, second.OutputJson);
        Assert.Equal(1, await ExecutionsAsync("mcp.everything.echo", key));
    }

    [Fact]
    public async Task A_destructive_tool_writes_once_and_a_repeat_of_its_key_does_not_write_again()
    {
        var key = "key-" + Guid.NewGuid().ToString("N");
        var path = Path.Combine(fixture.Files, $"{key}.txt");
        var arguments = JsonSerializer.Serialize(new { path, content = "written by the platform" });

        var first = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.filesystem.write_file", arguments, key));
        Assert.True(first.Succeeded, first.Error);
        Assert.Equal("written by the platform", await File.ReadAllTextAsync(path));
        using (var output = JsonDocument.Parse(first.OutputJson!))
        {
            Assert.Contains("Successfully wrote", output.RootElement.GetProperty("structuredContent").GetProperty("content").GetString(), StringComparison.Ordinal);
        }

        await File.WriteAllTextAsync(path, "changed since");
        var repeat = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.filesystem.write_file", arguments, key));

        Assert.True(repeat.Replayed);
        Assert.Equal("changed since", await File.ReadAllTextAsync(path));
        Assert.Equal(1, await ExecutionsAsync("mcp.filesystem.write_file", key));
    }

    [Fact]
    public async Task A_tool_of_a_Streamable_HTTP_server_runs_like_a_stdio_one()
    {
        var key = "key-" + Guid.NewGuid().ToString("N");

        var result = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.remote.get-sum", """{"a":2,"b":40}""", key));

        Assert.True(result.Succeeded, result.Error);
        Assert.Contains("42", result.OutputJson, StringComparison.Ordinal);
        Assert.Equal(SideEffectClass.ReadOnly, fixture.Tool("mcp.remote.get-sum").SideEffect);
        Assert.Equal(1, await ExecutionsAsync("mcp.remote.get-sum", key));
    }

    [Fact]
    public async Task Arguments_outside_the_servers_schema_are_refused_before_the_server_is_called()
    {
        var key = "key-" + Guid.NewGuid().ToString("N");

        var result = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.everything.echo", """{"text":"no message"}""", key));

        Assert.False(result.Succeeded);
        Assert.False(result.Transient);
        Assert.StartsWith("Invalid arguments for tool 'mcp.everything.echo':", result.Error, StringComparison.Ordinal);
        Assert.Equal(0, await ScalarAsync("SELECT count(*) FROM tool_ledger WHERE idempotency_key = @k", key));
    }

    [Fact]
    public async Task An_error_the_tool_reports_is_a_permanent_failure_with_its_text()
    {
        var key = "key-" + Guid.NewGuid().ToString("N");
        var outside = JsonSerializer.Serialize(new { path = "/etc/hostname" });

        var result = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.filesystem.read_text_file", outside, key));

        Assert.False(result.Succeeded);
        Assert.False(result.Transient);
        Assert.Contains("MCP tool 'read_text_file' of server 'filesystem' reported an error:", result.Error, StringComparison.Ordinal);
        Assert.Contains("outside allowed directories", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_only_call_whose_server_crashes_fails_transiently_and_runs_again_on_a_restarted_server()
    {
        var key = "key-" + Guid.NewGuid().ToString("N");
        const string arguments = """{"duration":5,"steps":5}""";
        var call = Service.SendAsync(ToolService<McpOptions>.Call("mcp.everything.trigger-long-running-operation", arguments, key));
        await KillServerWhenRunningAsync("everything", key);

        var crashed = await call;
        var again = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.everything.trigger-long-running-operation", arguments, key));

        Assert.False(crashed.Succeeded);
        Assert.True(crashed.Transient, crashed.Error);
        Assert.Contains("MCP server 'everything' stopped during the call of 'trigger-long-running-operation'", crashed.Error, StringComparison.Ordinal);
        Assert.True(again.Succeeded, again.Error);
        Assert.False(again.Replayed);
        Assert.Contains("Long running operation completed", again.OutputJson, StringComparison.Ordinal);
        Assert.Equal(2, await ExecutionsAsync("mcp.everything.trigger-long-running-operation", key));
    }

    [Fact]
    public async Task A_mutating_call_whose_server_crashes_fails_permanently_and_is_never_run_again()
    {
        var key = "key-" + Guid.NewGuid().ToString("N");
        var arguments = """{"duration":60,"steps":60}""";
        var call = Service.SendAsync(ToolService<McpOptions>.Call("mcp.slow.trigger-long-running-operation", arguments, key));
        await KillServerWhenRunningAsync("slow", key);

        var crashed = await call;
        var repeat = await Service.SendAsync(ToolService<McpOptions>.Call("mcp.slow.trigger-long-running-operation", arguments, key));

        Assert.False(crashed.Succeeded);
        Assert.False(crashed.Transient);
        Assert.Contains("whether it took effect is unknown, so it is not run again", crashed.Error, StringComparison.Ordinal);
        Assert.False(repeat.Succeeded);
        Assert.True(repeat.Replayed);
        Assert.Equal(crashed.Error, repeat.Error);
        Assert.Equal(1, await ExecutionsAsync("mcp.slow.trigger-long-running-operation", key));
    }

    private async Task KillServerWhenRunningAsync(string server, string key)
    {
        // Positive signal: the ledger says the call started (the row is written just before the server is called).
        await Poll.UntilAsync(
            async () => await ScalarAsync("SELECT count(*) FROM tool_ledger WHERE idempotency_key = @k AND status = 'started'", key) > 0,
            TimeSpan.FromSeconds(60),
            "the call to start",
            TimeSpan.FromMilliseconds(50));

        var pid = int.Parse((await File.ReadAllTextAsync(Path.Combine(fixture.PidFiles, server))).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        using var process = Process.GetProcessById(pid);
        process.Kill();
        await process.WaitForExitAsync();
    }

    private Task<long> ExecutionsAsync(string tool, string key) =>
        Service.ScalarAsync("SELECT executions FROM tool_ledger WHERE tool = @t AND idempotency_key = @k AND operation = 'execute'", ("t", tool), ("k", key));

    private Task<long> ScalarAsync(string sql, string key) => Service.ScalarAsync(sql, ("k", key));
}
