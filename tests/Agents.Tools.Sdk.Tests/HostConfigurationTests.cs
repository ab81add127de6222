using Agents.ServiceDefaults.Configuration;
using Agents.Testing;
using Microsoft.Extensions.Options;

namespace Agents.Tools.Sdk.Tests;

[Trait("Category", "Infrastructure")]
public sealed class HostConfigurationTests
{
    [Fact]
    public async Task FailFirst_fails_transiently_that_many_times_then_the_tool_runs()
    {
        await using var host = await ToolHost.StartAsync(new() { ["Tools:FaultInjection:test.greet:FailFirst"] = "2" });
        var key = ToolHost.NewKey();

        var results = new List<Contracts.ToolExecutionResult>();
        for (var i = 0; i < 3; i++)
        {
            results.Add(await host.SendAsync(ToolHost.Call("test.greet", "{\"name\":\"Ada\"}", key)));
        }

        Assert.All(results.Take(2), r => Assert.True(r is { Succeeded: false, Transient: true }, r.Error));
        Assert.Contains("Injected transient failure 1 of 2", results[0].Error, StringComparison.Ordinal);
        Assert.True(results[2].Succeeded, results[2].Error);
        Assert.Equal(1, host.Effects.ExecutionsOf(key));
        Assert.Equal(("succeeded", 3, 1, 0), await host.LedgerAsync("test.greet", key));
    }

    [Fact]
    public async Task By_default_a_read_only_tool_runs_each_time_without_the_ledger_and_a_mutating_one_still_runs_once()
    {
        await using var host = await ToolHost.StartAsync(new() { ["Tools:LedgerReadOnlyCalls"] = "false" });
        var key = ToolHost.NewKey();

        var first = await host.SendAsync(ToolHost.Call("test.greet", "{\"name\":\"Ada\"}", key));
        var second = await host.SendAsync(ToolHost.Call("test.greet", "{\"name\":\"Ada\"}", key));
        var order = ToolHost.NewKey();
        var placed = await host.SendAsync(ToolHost.Call("test.place-order", "{\"item\":\"book\",\"quantity\":1}", order));
        var again = await host.SendAsync(ToolHost.Call("test.place-order", "{\"item\":\"book\",\"quantity\":1}", order));

        Assert.True(first.Succeeded && second.Succeeded, first.Error ?? second.Error);
        Assert.False(first.Replayed);
        Assert.False(second.Replayed);
        Assert.Equal(2, host.Effects.ExecutionsOf(key));
        Assert.Equal(0, await host.LedgerRowsAsync("test.greet"));
        Assert.True(placed.Succeeded, placed.Error);
        Assert.True(again.Replayed);
        Assert.Equal(("succeeded", 1, 1, 1), await host.LedgerAsync("test.place-order", order));
    }

    [Fact]
    public async Task A_catalog_that_asks_gets_an_announcement_at_once_rather_than_at_the_next_interval()
    {
        await using var host = await ToolHost.StartAsync(new() { ["Tools:AnnounceInterval"] = "01:00:00" });
        await host.WaitForAsync(() => host.Announcements.Any(a => a.Tool.Name == "test.greet"), TimeSpan.FromSeconds(10), "the announcement at start");
        var before = host.Announcements.Count(a => a.Tool.Name == "test.greet");

        await host.PublishAsync(new Contracts.RequestToolAnnouncements("a catalog that started late", DateTimeOffset.UtcNow));

        await host.WaitForAsync(() => host.Announcements.Count(a => a.Tool.Name == "test.greet") > before, TimeSpan.FromSeconds(10), "an announcement on request");
    }

    [Fact]
    public async Task A_catalogs_request_reaches_every_instance_of_a_tool_host()
    {
        await using var first = await ToolHost.StartAsync(new() { ["Tools:AnnounceInterval"] = "01:00:00" });
        var settings = new Dictionary<string, string?>
        {
            [ConnectionStrings.PostgresKey] = first.ConnectionString,
            [ConnectionStrings.RabbitMqKey] = TestInfrastructure.RabbitMq,
            ["Messaging:QueuePrefix"] = first.Prefix,
            ["Tools:Instance"] = first.Instance + "-second",
            ["Tools:AnnounceInterval"] = "01:00:00",
        };
        using var second = ToolHost.Build(settings);
        await second.StartAsync();
        try
        {
            int Count(string instance) => first.Announcements.Count(a => a.Instance == instance && a.Tool.Name == "test.greet");
            await first.WaitForAsync(() => Count(first.Instance) >= 1 && Count(first.Instance + "-second") >= 1, TimeSpan.FromSeconds(60), "both instances' announcements at start");
            var (before, beforeSecond) = (Count(first.Instance), Count(first.Instance + "-second"));

            await first.PublishAsync(new Contracts.RequestToolAnnouncements("a catalog that started late", DateTimeOffset.UtcNow));

            await first.WaitForAsync(
                () => Count(first.Instance) > before && Count(first.Instance + "-second") > beforeSecond,
                TimeSpan.FromSeconds(60),
                "an announcement on request from each instance, not from one of them");
        }
        finally
        {
            await second.StopAsync();
        }
    }

    [Fact]
    public async Task AlwaysFail_fails_every_call_transiently()
    {
        await using var host = await ToolHost.StartAsync(new() { ["Tools:FaultInjection:test.greet:AlwaysFail"] = "true" });

        for (var i = 0; i < 3; i++)
        {
            var result = await host.SendAsync(ToolHost.Call("test.greet", "{\"name\":\"Ada\"}", ToolHost.NewKey()));
            Assert.True(result is { Succeeded: false, Transient: true });
            Assert.Contains("Tools:FaultInjection:test.greet:AlwaysFail", result.Error, StringComparison.Ordinal);
        }

        Assert.Empty(host.Effects.Executions);
    }

    [Theory]
    [InlineData("Tools:AnnounceInterval", "00:00:00", "Tools:AnnounceInterval must be between 00:00:01 and 01:00:00.")]
    [InlineData("Tools:FaultInjection:test.nothing:FailFirst", "1", "Tools:FaultInjection:test.nothing names no tool of this host")]
    public async Task Invalid_settings_stop_the_host_at_start_naming_the_setting(string key, string value, string message)
    {
        using var host = ToolHost.Build(new Dictionary<string, string?>
        {
            [ConnectionStrings.PostgresKey] = "Host=127.0.0.1;Database=unused;Username=agents;Password=agents",
            [ConnectionStrings.RabbitMqKey] = TestInfrastructure.RabbitMq,
            [key] = value,
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tool_without_a_bus_consumer_stops_the_host_with_advice()
    {
        using var host = ToolHost.Build(
            new Dictionary<string, string?>
            {
                [ConnectionStrings.PostgresKey] = "Host=127.0.0.1;Database=unused;Username=agents;Password=agents",
                [ConnectionStrings.RabbitMqKey] = TestInfrastructure.RabbitMq,
                ["Messaging:QueuePrefix"] = TestInfrastructure.UniqueName("noconsumer"),
            },
            registerConsumers: false);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("builder.AddAgentsBus(x => x.AddAgentsTools())", error.Message, StringComparison.Ordinal);
        await host.StopAsync();
    }
}
