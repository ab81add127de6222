using System.Text.Json;
using Agents.Testing;
using Agents.Tools.Sdk.Hosting;
using Agents.Tools.Sdk.Schema;

namespace Agents.Tools.Sample.Tests;

/// <summary>The tool service in memory against the real RabbitMQ and PostgreSQL, called over the bus as the tool-gateway calls it.</summary>
public sealed class CountWordsFixture : IAsyncLifetime
{
    public ToolService<CountWords> Service { get; private set; } = null!;

    public async Task InitializeAsync() => Service = await ToolService<CountWords>.StartAsync("sample", sp => sp.MigrateAgentsToolLedgerAsync());

    public async Task DisposeAsync() => await Service.DisposeAsync();
}

[Trait("Category", "Infrastructure")]
public sealed class CountWordsTests(CountWordsFixture fixture) : IClassFixture<CountWordsFixture>
{
    [Fact]
    public async Task Counts_the_words_of_a_text()
    {
        var result = await fixture.Service.SendAsync(ToolService<CountWords>.Call("sample.count-words", """{"text":"one two  three"}"""));

        Assert.True(result.Succeeded, result.Error);
        var output = JsonSerializer.Deserialize<CountWordsOutput>(result.OutputJson!, ToolJson.Options)!;
        Assert.Equal(3, output.Words);
        Assert.Equal(14, output.Characters);
    }

    [Fact]
    public async Task Refuses_arguments_outside_its_schema()
    {
        var result = await fixture.Service.SendAsync(ToolService<CountWords>.Call("sample.count-words", """{"words":3}"""));

        Assert.False(result.Succeeded);
        Assert.False(result.Transient);
        Assert.StartsWith("Invalid arguments for tool 'sample.count-words'", result.Error, StringComparison.Ordinal);
    }
}
