using Agents.Models.Deterministic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Agents.Models.Tests;

[Trait("Category", "Unit")]
public sealed class ConfigurationTests
{
    [Fact]
    public void With_no_configuration_both_roles_use_the_deterministic_provider()
    {
        using var host = TestHost.Build();

        foreach (var role in ModelRoles.All)
        {
            var client = host.Client(role);
            var metadata = client.GetService<ChatClientMetadata>();
            Assert.Equal("deterministic", metadata?.ProviderName);
            Assert.Equal("deterministic", metadata?.DefaultModelId);
            Assert.NotNull(client.GetService<DeterministicChatClient>());
        }
    }

    [Fact]
    public void Planner_and_executor_have_separate_settings()
    {
        using var host = TestHost.Build(new Dictionary<string, string?>
        {
            ["Models:Planner:Provider"] = "OpenAI",
            ["Models:Planner:Endpoint"] = "http://127.0.0.1:8000/v1",
            ["Models:Planner:Model"] = "strong-model",
            ["Models:Executor:Provider"] = "Ollama",
            ["Models:Executor:Endpoint"] = "http://127.0.0.1:11434",
            ["Models:Executor:Model"] = "llama3.2:3b",
        });

        var planner = host.Client(ModelRoles.Planner).GetService<ChatClientMetadata>();
        var executor = host.Client(ModelRoles.Executor).GetService<ChatClientMetadata>();

        Assert.Equal("openai", planner?.ProviderName);
        Assert.Equal("strong-model", planner?.DefaultModelId);
        Assert.Equal(new Uri("http://127.0.0.1:8000/v1"), planner?.ProviderUri);
        Assert.Equal("ollama", executor?.ProviderName);
        Assert.Equal("llama3.2:3b", executor?.DefaultModelId);
        Assert.Equal(new Uri("http://127.0.0.1:11434"), executor?.ProviderUri);
        Assert.NotSame(host.Client(ModelRoles.Planner), host.Client(ModelRoles.Executor));
    }

    [Fact]
    public void A_deterministic_role_can_name_its_model()
    {
        using var host = TestHost.Build(new Dictionary<string, string?> { ["Models:Executor:Model"] = "cheap-offline" });

        Assert.Equal("cheap-offline", host.Client(ModelRoles.Executor).GetService<ChatClientMetadata>()?.DefaultModelId);
        Assert.Equal("deterministic", host.Client(ModelRoles.Planner).GetService<ChatClientMetadata>()?.DefaultModelId);
    }

    [Theory]
    [InlineData("Models:Planner:Provider", "OpenAI", "Models:Planner:Endpoint is required when Provider is OpenAI.")]
    [InlineData("Models:Planner:Provider", "OpenAI", "Models:Planner:Model is required when Provider is OpenAI.")]
    [InlineData("Models:Executor:Provider", "Ollama", "Models:Executor:Endpoint is required when Provider is Ollama.")]
    [InlineData("Models:Executor:MaxOutputTokens", "0", "Models:Executor:MaxOutputTokens must be between 1 and 1000000 (was 0).")]
    [InlineData("Models:Planner:Temperature", "3.5", "Models:Planner:Temperature must be between 0 and 2 (was 3.5).")]
    [InlineData("Models:Planner:TimeoutSeconds", "0", "Models:Planner:TimeoutSeconds must be between 1 and 3600 (was 0).")]
    [InlineData("Models:Executor:Deterministic:FailFirstCalls", "-1", "Models:Executor:Deterministic:FailFirstCalls must not be negative (was -1).")]
    [InlineData("Models:Prices:gpt-x:InputPerMillion", "-1", "Models:Prices:gpt-x:InputPerMillion must not be negative (was -1).")]
    public async Task A_bad_setting_stops_the_host_at_start_and_names_the_setting(string key, string value, string expected)
    {
        using var host = TestHost.Build(new Dictionary<string, string?> { [key] = value });

        var error = await Assert.ThrowsAnyAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(expected, error.Failures);
    }

    [Fact]
    public async Task An_endpoint_that_is_not_an_http_url_is_rejected()
    {
        using var host = TestHost.Build(new Dictionary<string, string?>
        {
            ["Models:Planner:Provider"] = "OpenAI",
            ["Models:Planner:Endpoint"] = "localhost:8000",
            ["Models:Planner:Model"] = "m",
        });

        var error = await Assert.ThrowsAnyAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Models:Planner:Endpoint 'localhost:8000' is not an absolute http or https URL.", error.Failures);
    }

    [Fact]
    public async Task An_unknown_provider_names_the_setting()
    {
        using var host = TestHost.Build(new Dictionary<string, string?> { ["Models:Planner:Provider"] = "Bogus" });

        var error = await Assert.ThrowsAnyAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("Models:Planner:Provider", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_valid_configuration_starts()
    {
        using var host = TestHost.Build(new Dictionary<string, string?>
        {
            ["Models:Planner:Provider"] = "OpenAI",
            ["Models:Planner:Endpoint"] = "https://api.openai.com/v1",
            ["Models:Planner:ApiKey"] = "sk-test",
            ["Models:Planner:Model"] = "gpt-4.1",
            ["Models:Planner:Temperature"] = "0.2",
            ["Models:Prices:gpt-4.1:InputPerMillion"] = "2",
            ["Models:Prices:gpt-4.1:OutputPerMillion"] = "8",
        });

        await host.StartAsync();
        await host.StopAsync();

        var prices = host.Services.GetRequiredService<ModelPriceTable>();
        Assert.True(prices.TryGetPrice("gpt-4.1", out var price));
        Assert.Equal(8m, price.OutputPerMillion);
    }
}
