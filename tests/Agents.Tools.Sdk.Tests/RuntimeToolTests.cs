using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Tools.Sdk.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Tools.Sdk.Tests;

/// <summary>Tools defined at run time by a schema document and a delegate, over the real bus and ledger.</summary>
[Trait("Category", "Infrastructure")]
public sealed class RuntimeToolTests(ToolHostFixture fixture) : IClassFixture<ToolHostFixture>
{
    private static readonly ConcurrentDictionary<string, int> Runs = new(StringComparer.Ordinal);

    private ToolHost Host => fixture.Host;

    private RuntimeToolCatalog Catalog => Host.Host.Services.GetRequiredService<RuntimeToolCatalog>();

    [Fact]
    public async Task A_runtime_tool_is_announced_with_its_schema_and_executes_once_per_key()
    {
        var tool = Append("test.runtime-append", SideEffectClass.Mutating);
        await Catalog.AddOrUpdateAsync(tool, CancellationToken.None);
        await Host.WaitForAsync(() => Host.Announcements.Any(a => a.Tool.Name == tool.Name), TimeSpan.FromSeconds(20), "the runtime tool's announcement");
        var announced = Host.Announcements.First(a => a.Tool.Name == tool.Name).Tool;
        Assert.Equal(tool.InputSchema.ToJsonString(), announced.InputSchema);
        Assert.Equal(SideEffectClass.Mutating, announced.SideEffect);
        Assert.Equal("test.write", announced.RequiredScope);
        Assert.False(announced.Compensable);

        var key = ToolHost.NewKey();
        var first = await Host.SendAsync(ToolHost.Call(tool.Name, "{\"text\":\"a\",\"key\":\"" + key + "\"}", key));
        var second = await Host.SendAsync(ToolHost.Call(tool.Name, "{\"key\":\"" + key + "\",\"text\":\"a\"}", key));

        Assert.True(first.Succeeded, first.Error);
        Assert.Equal("{\"appended\":\"a\",\"tenant\":\"tenant-a\"}", first.OutputJson);
        Assert.True(second.Replayed);
        Assert.Equal(first.OutputJson, second.OutputJson);
        Assert.Equal(1, Runs[key]);
        Assert.Equal(("succeeded", 1, 1, 1), await Host.LedgerAsync(tool.Name, key));
    }

    [Fact]
    public async Task Arguments_that_break_the_runtime_schema_are_refused_without_running()
    {
        var tool = Append("test.runtime-strict", SideEffectClass.ReadOnly);
        await Catalog.AddOrUpdateAsync(tool, CancellationToken.None);
        var key = ToolHost.NewKey();

        var result = await Host.SendAsync(ToolHost.Call(tool.Name, "{\"text\":42,\"key\":\"" + key + "\"}", key));

        Assert.False(result.Succeeded);
        Assert.False(result.Transient);
        Assert.StartsWith("Invalid arguments for tool 'test.runtime-strict':", result.Error);
        Assert.Contains("/text", result.Error);
        Assert.False(Runs.ContainsKey(key));
    }

    [Fact]
    public async Task A_removed_runtime_tool_answers_that_it_is_no_longer_offered()
    {
        var tool = Append("test.runtime-gone", SideEffectClass.ReadOnly);
        await Catalog.AddOrUpdateAsync(tool, CancellationToken.None);
        Assert.True(Catalog.Remove(tool.Name));
        var key = ToolHost.NewKey();

        var result = await Host.SendAsync(ToolHost.Call(tool.Name, "{\"text\":\"x\",\"key\":\"" + key + "\"}", key));

        Assert.False(result.Succeeded);
        Assert.False(result.Transient);
        Assert.Equal("Tool 'test.runtime-gone' is no longer offered by this host.", result.Error);
        Assert.DoesNotContain(Catalog.Tools, t => t.Name == tool.Name);
    }

    [Fact]
    public async Task A_runtime_tool_that_throws_fails_transiently_and_runs_again_with_the_same_key()
    {
        var attempts = 0;
        var tool = new RuntimeTool
        {
            Name = "test.runtime-flaky",
            Description = "Fails on its first run.",
            InputSchema = new JsonObject { ["type"] = "object" },
            SideEffect = SideEffectClass.Idempotent,
            Scope = "test.write",
            ExecuteAsync = (_, _, _) => Interlocked.Increment(ref attempts) == 1
                ? throw new IOException("the server went away")
                : Task.FromResult<JsonNode>(new JsonObject { ["ok"] = true }),
        };
        await Catalog.AddOrUpdateAsync(tool, CancellationToken.None);
        var key = ToolHost.NewKey();

        var failed = await Host.SendAsync(ToolHost.Call(tool.Name, "{}", key));
        var retried = await Host.SendAsync(ToolHost.Call(tool.Name, "{}", key));

        Assert.False(failed.Succeeded);
        Assert.True(failed.Transient);
        Assert.Contains("IOException: the server went away", failed.Error);
        Assert.True(retried.Succeeded, retried.Error);
        Assert.Equal(("succeeded", 2, 2, 0), await Host.LedgerAsync(tool.Name, key));
    }

    [Fact]
    public async Task An_unusable_definition_is_refused_with_the_reason()
    {
        var badName = Append("Test.Upper", SideEffectClass.ReadOnly);
        var taken = Append("test.greet", SideEffectClass.ReadOnly);

        var name = await Assert.ThrowsAsync<InvalidOperationException>(() => Catalog.AddOrUpdateAsync(badName, CancellationToken.None));
        var clash = await Assert.ThrowsAsync<InvalidOperationException>(() => Catalog.AddOrUpdateAsync(taken, CancellationToken.None));

        Assert.Contains("tool name 'Test.Upper' is invalid", name.Message);
        Assert.Contains("a tool class of this host is already named 'test.greet'", clash.Message);
    }

    private static RuntimeTool Append(string name, SideEffectClass sideEffect) => new()
    {
        Name = name,
        Description = "Appends a text (a test tool defined by a schema document).",
        InputSchema = JsonNode.Parse("""
            {"type":"object","properties":{"text":{"type":"string"},"key":{"type":"string"}},"required":["text","key"],"additionalProperties":false}
            """)!.AsObject(),
        SideEffect = sideEffect,
        Scope = "test.write",
        ExecuteAsync = (input, context, _) =>
        {
            Runs.AddOrUpdate(input.GetProperty("key").GetString()!, 1, (_, n) => n + 1);
            return Task.FromResult<JsonNode>(new JsonObject { ["appended"] = input.GetProperty("text").GetString(), ["tenant"] = context.Principal.TenantId });
        },
    };
}
