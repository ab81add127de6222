using System.Text.Json;
using Agents.Contracts;
using Agents.Tools.Sdk.Schema;

namespace Agents.Tools.Sdk.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ToolHostTests(ToolHostFixture fixture) : IClassFixture<ToolHostFixture>
{
    private ToolHost Host => fixture.Host;

    [Fact]
    public async Task Announces_every_tool_on_start_and_again_every_interval()
    {
        var first = Host.Announcements.ToArray();
        var greet = first.First(a => a.Tool.Name == "test.greet").Tool;
        Assert.Equal(ToolDefinition.For<Greet>().InputSchema.ToJsonString(), greet.InputSchema);
        Assert.Equal("test.read", greet.RequiredScope);
        Assert.Contains(first, a => a.Tool is { Name: "test.place-order", Compensable: true, SideEffect: SideEffectClass.Mutating, Risk: RiskTier.Medium });

        // Tools:AnnounceInterval is one second in these tests.
        await Host.WaitForAsync(() => Host.Announcements.Count(a => a.Tool.Name == "test.greet") >= 2, TimeSpan.FromSeconds(10), "a second announcement");
    }

    [Fact]
    public async Task Execute_over_the_bus_returns_the_output()
    {
        var key = ToolHost.NewKey();

        var result = await Host.SendAsync(ToolHost.Call("test.greet", "{\"name\":\"Ada\",\"times\":2,\"title\":\"Dr\"}", key));

        Assert.True(result.Succeeded, result.Error);
        Assert.False(result.Replayed);
        var output = JsonSerializer.Deserialize<GreetOutput>(result.OutputJson!, ToolJson.Options)!;
        Assert.Equal("Hello, Dr Ada (tenant tenant-a)", output.Message);
        Assert.Equal(2, output.Lines.Count);
        Assert.Equal(("succeeded", 1, 1, 0), await Host.LedgerAsync("test.greet", key));
    }

    [Fact]
    public async Task Same_key_twice_executes_once_and_the_second_answer_is_replayed()
    {
        var key = ToolHost.NewKey();
        const string args = "{\"item\":\"book\",\"quantity\":2}";

        var first = await Host.SendAsync(ToolHost.Call("test.place-order", args, key));
        var second = await Host.SendAsync(ToolHost.Call("test.place-order", "{ \"quantity\": 2, \"item\": \"book\" }", key));

        Assert.True(first.Succeeded, first.Error);
        Assert.False(first.Replayed);
        Assert.True(second.Succeeded, second.Error);
        Assert.True(second.Replayed);
        Assert.Equal(first.OutputJson, second.OutputJson);
        Assert.Equal(1, Host.Effects.ExecutionsOf(key));
        Assert.Equal(("succeeded", 1, 1, 1), await Host.LedgerAsync("test.place-order", key));
    }

    [Fact]
    public async Task Concurrent_duplicates_execute_once()
    {
        var key = ToolHost.NewKey();
        const int duplicates = 8;

        var results = await Task.WhenAll(Enumerable.Range(0, duplicates)
            .Select(_ => Host.SendAsync(ToolHost.Call("test.place-order", "{\"item\":\"pen\",\"quantity\":1}", key))));

        Assert.All(results, r => Assert.True(r.Succeeded, r.Error));
        Assert.Single(results, r => !r.Replayed);
        Assert.Single(results.Select(r => r.OutputJson).Distinct());
        Assert.Equal(1, Host.Effects.ExecutionsOf(key));
        Assert.Equal(("succeeded", 1, 1, duplicates - 1), await Host.LedgerAsync("test.place-order", key));
    }

    [Fact]
    public async Task Same_key_with_different_arguments_is_refused_without_executing()
    {
        var key = ToolHost.NewKey();
        await Host.SendAsync(ToolHost.Call("test.place-order", "{\"item\":\"pen\",\"quantity\":1}", key));

        var result = await Host.SendAsync(ToolHost.Call("test.place-order", "{\"item\":\"pen\",\"quantity\":5}", key));

        Assert.False(result.Succeeded);
        Assert.False(result.Transient);
        Assert.Contains("was already used for 'test.place-order' with different arguments", result.Error, StringComparison.Ordinal);
        Assert.Equal(1, Host.Effects.ExecutionsOf(key));
    }

    [Fact]
    public async Task Invalid_arguments_get_a_precise_error_and_nothing_runs()
    {
        var key = ToolHost.NewKey();

        var result = await Host.SendAsync(ToolHost.Call("test.greet", "{\"name\":\"Ada\",\"times\":7}", key));

        Assert.False(result.Succeeded);
        Assert.False(result.Transient);
        Assert.Equal("Invalid arguments for tool 'test.greet': $.times: The field times must be between 1 and 5.", result.Error);
        Assert.Equal(0, Host.Effects.ExecutionsOf(key));
    }

    [Fact]
    public async Task Compensation_runs_once_with_the_stored_input_and_output_and_is_replayed()
    {
        var key = ToolHost.NewKey();
        var executed = await Host.SendAsync(ToolHost.Call("test.place-order", "{\"item\":\"lamp\",\"quantity\":3}", key));
        Assert.True(executed.Succeeded, executed.Error);

        var first = await Host.SendAsync(ToolHost.Call("test.place-order", "{}", key, compensate: true));
        var second = await Host.SendAsync(ToolHost.Call("test.place-order", "{}", key, compensate: true));

        Assert.True(first.Succeeded, first.Error);
        Assert.False(first.Replayed);
        var output = JsonSerializer.Deserialize<CompensationOutput>(first.OutputJson!, ToolJson.Options)!;
        Assert.True(output.Compensated);
        Assert.Equal($"Order O-{key}-1 (3 x lamp) cancelled.", output.Detail);
        Assert.True(second.Replayed);
        Assert.Equal(1, Host.Effects.CompensationsOf(key));
        Assert.Equal(("succeeded", 1, 1, 1), await Host.LedgerAsync("test.place-order", key, "compensate"));
    }

    [Fact]
    public async Task Compensating_a_call_never_executed_is_a_stated_no_op_and_the_key_cannot_run_later()
    {
        var key = ToolHost.NewKey();

        var compensation = await Host.SendAsync(ToolHost.Call("test.place-order", "{}", key, compensate: true));
        var late = await Host.SendAsync(ToolHost.Call("test.place-order", "{\"item\":\"pen\",\"quantity\":1}", key));

        Assert.True(compensation.Succeeded, compensation.Error);
        var output = JsonSerializer.Deserialize<CompensationOutput>(compensation.OutputJson!, ToolJson.Options)!;
        Assert.False(output.Compensated);
        Assert.False(output.OriginalExecuted);
        Assert.Contains("never executed", output.Detail, StringComparison.Ordinal);
        Assert.False(late.Succeeded);
        Assert.Contains("already compensated", late.Error, StringComparison.Ordinal);
        Assert.Equal(0, Host.Effects.ExecutionsOf(key));
        Assert.Equal(0, Host.Effects.CompensationsOf(key));
    }

    [Fact]
    public async Task Compensating_a_tool_that_cannot_compensate_is_refused()
    {
        var result = await Host.SendAsync(ToolHost.Call("test.greet", "{}", ToolHost.NewKey(), compensate: true));

        Assert.False(result.Succeeded);
        Assert.Equal("Tool 'test.greet' is not compensable: it declares no way to undo a call.", result.Error);
    }

    [Fact]
    public async Task Transient_failure_is_reported_as_transient_and_the_same_key_runs_again()
    {
        var key = ToolHost.NewKey();

        var first = await Host.SendAsync(ToolHost.Call("test.flaky", "{\"mode\":\"transient-once\"}", key));
        var second = await Host.SendAsync(ToolHost.Call("test.flaky", "{\"mode\":\"transient-once\"}", key));

        Assert.False(first.Succeeded);
        Assert.True(first.Transient);
        Assert.Equal("The backend is busy.", first.Error);
        Assert.True(second.Succeeded, second.Error);
        Assert.False(second.Replayed);
        Assert.Equal(("succeeded", 2, 2, 0), await Host.LedgerAsync("test.flaky", key));
    }

    [Fact]
    public async Task Permanent_failure_is_replayed_not_run_again()
    {
        var key = ToolHost.NewKey();

        var first = await Host.SendAsync(ToolHost.Call("test.flaky", "{\"mode\":\"permanent\"}", key));
        var second = await Host.SendAsync(ToolHost.Call("test.flaky", "{\"mode\":\"permanent\"}", key));

        Assert.False(first.Transient);
        Assert.Equal("The order does not exist.", first.Error);
        Assert.False(second.Succeeded);
        Assert.True(second.Replayed);
        Assert.Equal(first.Error, second.Error);
        Assert.Equal(1, Host.Effects.ExecutionsOf(key));
    }

    [Theory]
    [InlineData("crash", true, "Tool 'test.flaky' failed: InvalidOperationException: Something broke inside.")]
    [InlineData("argument", false, "Mode is out of range for this backend. (Parameter 'input')")]
    [InlineData("slow", true, "Tool 'test.flaky' did not finish within its timeout of 1 s.")]
    public async Task Exceptions_become_failed_results_with_the_message(string mode, bool transient, string error)
    {
        var result = await Host.SendAsync(ToolHost.Call("test.flaky", $"{{\"mode\":\"{mode}\"}}", ToolHost.NewKey()));

        Assert.False(result.Succeeded);
        Assert.Equal(transient, result.Transient);
        Assert.Equal(error, result.Error);
    }

    [Fact]
    public async Task Interrupted_mutating_call_is_not_run_again()
    {
        var key = ToolHost.NewKey();
        const string args = "{\"item\":\"pen\",\"quantity\":1}";
        await InsertInterruptedAsync("test.place-order", key, args);

        var result = await Host.SendAsync(ToolHost.Call("test.place-order", args, key));

        Assert.False(result.Succeeded);
        Assert.False(result.Transient);
        Assert.Contains("never recorded its outcome", result.Error, StringComparison.Ordinal);
        Assert.Equal(0, Host.Effects.ExecutionsOf(key));
        Assert.Equal("outcome-unknown", (await Host.LedgerAsync("test.place-order", key)).Status);
    }

    [Fact]
    public async Task Interrupted_idempotent_call_runs_again()
    {
        var key = ToolHost.NewKey();
        const string args = "{\"mode\":\"fine\"}";
        await InsertInterruptedAsync("test.flaky", key, args);

        var result = await Host.SendAsync(ToolHost.Call("test.flaky", args, key));

        Assert.True(result.Succeeded, result.Error);
        Assert.Equal(1, Host.Effects.ExecutionsOf(key));
        Assert.Equal(("succeeded", 2, 2, 0), await Host.LedgerAsync("test.flaky", key));
    }

    [Fact]
    public async Task Another_tenant_cannot_reuse_a_key_or_read_its_result()
    {
        var key = ToolHost.NewKey();
        await Host.SendAsync(ToolHost.Call("test.greet", "{\"name\":\"Ada\"}", key, ToolHost.Alice));

        var result = await Host.SendAsync(ToolHost.Call("test.greet", "{\"name\":\"Ada\"}", key, ToolHost.Bob));

        Assert.False(result.Succeeded);
        Assert.Null(result.OutputJson);
        Assert.Equal($"Idempotency key '{key}' belongs to another tenant.", result.Error);
    }

    [Fact]
    public async Task A_call_for_another_tool_or_without_principal_is_refused()
    {
        var wrongTool = ToolHost.Call("test.greet", "{\"name\":\"Ada\"}", ToolHost.NewKey()) with { Tool = "test.flaky" };
        var address = await Host.SendAsync(ToolHost.Call("test.greet", "{\"name\":\"Ada\"}", ToolHost.NewKey()) with { Principal = new AgentPrincipal("", "", []) });

        Assert.False(address.Succeeded);
        Assert.Contains("no principal", address.Error, StringComparison.Ordinal);
        var misrouted = await Host.SendAsync(wrongTool);
        Assert.False(misrouted.Succeeded);
    }

    private Task InsertInterruptedAsync(string tool, string key, string args) => Host.ExecuteSqlAsync(
        """
        INSERT INTO tool_ledger (tool, idempotency_key, operation, tenant_id, user_id, task_id, step_id, last_call_id,
                                 arguments_hash, arguments, status, attempts, executions, replays, created_at, updated_at)
        VALUES (@tool, @key, 'execute', 'tenant-a', 'alice', gen_random_uuid(), 'step-1', gen_random_uuid(),
                @hash, @args, 'started', 1, 1, 0, now(), now())
        """,
        ("tool", tool),
        ("key", key),
        ("hash", ToolJson.ArgumentsHash(args)),
        ("args", args));
}
