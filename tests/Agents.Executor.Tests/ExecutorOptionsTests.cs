using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Agents.Executor.Tests;

[Trait("Category", "Unit")]
public sealed class ExecutorOptionsTests
{
    private static ExecutorOptions Resolve(Dictionary<string, string?> settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddOptions<ExecutorOptions>().BindConfiguration(ExecutorOptions.Section).ValidateDataAnnotations();
        return services.BuildServiceProvider().GetRequiredService<IOptions<ExecutorOptions>>().Value;
    }

    [Fact]
    public void Defaults_are_valid()
    {
        var options = Resolve([]);
        Assert.Equal(3, options.MaxStepAttempts);
        Assert.Equal(2, options.MaxPlanRevisions);
    }

    [Theory]
    [InlineData("Executor:MaxStepAttempts", "0")]
    [InlineData("Executor:MaxPlanRevisions", "-1")]
    [InlineData("Executor:StepTimeout", "00:00:00")]
    [InlineData("Executor:MemoryRecallTimeout", "-00:00:01")]
    [InlineData("Executor:MaxOutputTokens", "0")]
    [InlineData("Executor:EventStreamPollInterval", "00:00:00.001")]
    [InlineData("Executor:MaxCircuitWait", "-00:00:01")]
    [InlineData("Executor:MaxCircuitWait", "02:00:00")]
    public void Invalid_settings_are_refused_with_a_message_naming_the_setting(string key, string value)
    {
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(new() { [key] = value }));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }
}
