using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Models.Tests;

/// <summary>The real provider clients, talking to a fake HTTP handler: no network.</summary>
[Trait("Category", "Unit")]
public sealed class ProviderTests
{
    private const string OpenAIAnswer = """
        {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-test-2025-01-01",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the fake server"},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":1200,"completion_tokens":300,"total_tokens":1500}}
        """;

    // Ollama answers with newline-delimited JSON: one object per line.
    private const string OllamaAnswer =
        """{"model":"llama3.1:8b","created_at":"2025-01-01T00:00:00Z","message":{"role":"assistant","content":"Hello from fake Ollama"},"done":true,"done_reason":"stop","total_duration":1000,"prompt_eval_count":100,"eval_count":40}""" + "\n";

    [Fact]
    public async Task OpenAI_compatible_provider_calls_the_configured_endpoint_with_model_key_and_bounded_tokens()
    {
        var server = new FakeModelServerHandler(OpenAIAnswer);
        using var host = TestHost.Build(
            new Dictionary<string, string?>
            {
                ["Models:Planner:Provider"] = "OpenAI",
                ["Models:Planner:Endpoint"] = "http://llm.test:8000/v1",
                ["Models:Planner:ApiKey"] = "sk-test",
                ["Models:Planner:Model"] = "gpt-test",
                ["Models:Planner:MaxOutputTokens"] = "50",
                ["Models:Planner:Temperature"] = "0.25",
                ["Models:Prices:gpt-test:InputPerMillion"] = "2.5",
                ["Models:Prices:gpt-test:OutputPerMillion"] = "10",
            },
            services => services.AddHttpClient(ModelProviderFactory.HttpClientName(ModelRoles.Planner)).ConfigurePrimaryHttpMessageHandler(() => server));

        var response = await host.Client(ModelRoles.Planner).GetResponseAsync("Plan a trip", new ChatOptions { MaxOutputTokens = 5000 });

        var request = Assert.Single(server.Requests);
        Assert.Equal(new Uri("http://llm.test:8000/v1/chat/completions"), request.Uri);
        Assert.Equal("Bearer sk-test", request.Authorization);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal("gpt-test", body.RootElement.GetProperty("model").GetString());
        var maxTokens = body.RootElement.TryGetProperty("max_completion_tokens", out var m) ? m : body.RootElement.GetProperty("max_tokens");
        Assert.Equal(50, maxTokens.GetInt32());
        Assert.Equal(0.25, body.RootElement.GetProperty("temperature").GetDouble(), 3);
        Assert.DoesNotContain("agents.", request.Body, StringComparison.Ordinal);

        Assert.Equal("Hello from the fake server", response.Text);
        var usage = response.GetModelUsage();
        Assert.NotNull(usage);
        Assert.Equal("openai", usage.Provider);
        Assert.Equal("gpt-test-2025-01-01", usage.Model);
        Assert.Equal(1200, usage.InputTokens);
        Assert.Equal(300, usage.OutputTokens);
        Assert.True(usage.Priced); // the response's dated model id falls back to the configured model's price
        Assert.Equal(0.006m, usage.Cost);
    }

    [Fact]
    public async Task OpenAI_compatible_provider_without_a_key_works_for_local_servers()
    {
        var server = new FakeModelServerHandler(OpenAIAnswer);
        using var host = TestHost.Build(
            new Dictionary<string, string?>
            {
                ["Models:Executor:Provider"] = "OpenAI",
                ["Models:Executor:Endpoint"] = "http://127.0.0.1:11434/v1",
                ["Models:Executor:Model"] = "qwen2.5",
            },
            services => services.AddHttpClient(ModelProviderFactory.HttpClientName(ModelRoles.Executor)).ConfigurePrimaryHttpMessageHandler(() => server));

        await host.Client(ModelRoles.Executor).GetResponseAsync("hello");

        var request = Assert.Single(server.Requests);
        Assert.Equal(new Uri("http://127.0.0.1:11434/v1/chat/completions"), request.Uri);
        Assert.Equal("Bearer " + ModelProviderFactory.NoApiKey, request.Authorization);
    }

    [Fact]
    public async Task Ollama_provider_calls_the_native_chat_api_and_prices_a_model_id_with_a_colon()
    {
        var server = new FakeModelServerHandler(OllamaAnswer, "application/x-ndjson");
        using var host = TestHost.Build(
            new Dictionary<string, string?>
            {
                ["Models:Executor:Provider"] = "Ollama",
                ["Models:Executor:Endpoint"] = "http://ollama.test:11434",
                ["Models:Executor:Model"] = "llama3.1:8b",
                ["Models:Executor:MaxOutputTokens"] = "64",
                ["Models:Prices:llama-8b:Model"] = "llama3.1:8b",
                ["Models:Prices:llama-8b:InputPerMillion"] = "1000",
                ["Models:Prices:llama-8b:OutputPerMillion"] = "2000",
            },
            services => services.AddHttpClient(ModelProviderFactory.HttpClientName(ModelRoles.Executor)).ConfigurePrimaryHttpMessageHandler(() => server));

        var response = await host.Client(ModelRoles.Executor).GetResponseAsync("Say hello");

        var request = Assert.Single(server.Requests);
        Assert.Equal(new Uri("http://ollama.test:11434/api/chat"), request.Uri);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal("llama3.1:8b", body.RootElement.GetProperty("model").GetString());
        Assert.Equal(64, body.RootElement.GetProperty("options").GetProperty("num_predict").GetInt32());

        Assert.Equal("Hello from fake Ollama", response.Text);
        var usage = response.GetModelUsage();
        Assert.NotNull(usage);
        Assert.Equal("ollama", usage.Provider);
        Assert.Equal(100, usage.InputTokens);
        Assert.Equal(40, usage.OutputTokens);
        Assert.Equal(0.18m, usage.Cost); // 100 * 1000/1M + 40 * 2000/1M
    }
}
