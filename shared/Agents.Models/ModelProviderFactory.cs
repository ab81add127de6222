using System.ClientModel;
using System.ClientModel.Primitives;
using Agents.Models.Deterministic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OllamaSharp;
using OpenAI;

namespace Agents.Models;

/// <summary>Creates the provider client (the innermost client of a role's pipeline) from its settings.</summary>
public static class ModelProviderFactory
{
    /// <summary>
    /// Sent as the API key to OpenAI-compatible servers when <c>ApiKey</c> is not set: local servers
    /// (vLLM, llama.cpp, Ollama) ignore it, and the OpenAI client library requires a non-empty key.
    /// </summary>
    public const string NoApiKey = "no-key";

    /// <summary>Name of the <see cref="HttpClient"/> a role's provider uses (configure handlers or resilience on it).</summary>
    public static string HttpClientName(string role) => "Agents.Models." + role;

    /// <summary>Creates the provider client for <paramref name="role"/> from validated <paramref name="options"/>.</summary>
    public static IChatClient Create(string role, ModelOptions options, IServiceProvider services)
    {
        var timeout = TimeSpan.FromSeconds(options.TimeoutSeconds);
        switch (options.Provider)
        {
            case ModelProvider.Deterministic:
                return new DeterministicChatClient(
                    services.GetServices<IDeterministicResponder>(),
                    options.Deterministic,
                    options.EffectiveModel,
                    services.GetService<TimeProvider>());

            case ModelProvider.OpenAI:
                {
                    var http = CreateHttpClient(role, services, timeout);
                    var clientOptions = new OpenAIClientOptions
                    {
                        Endpoint = new Uri(options.Endpoint!),
                        Transport = new HttpClientPipelineTransport(http),
                        NetworkTimeout = timeout,
                    };
                    var credential = new ApiKeyCredential(string.IsNullOrWhiteSpace(options.ApiKey) ? NoApiKey : options.ApiKey);
                    return new OpenAIClient(credential, clientOptions).GetChatClient(options.Model).AsIChatClient();
                }

            case ModelProvider.Ollama:
                {
                    var http = CreateHttpClient(role, services, timeout);
                    http.BaseAddress = new Uri(options.Endpoint!);
                    return new OllamaApiClient(http, options.Model!);
                }

            default:
                throw new InvalidOperationException($"{ModelRoles.SectionOf(role)}:Provider '{options.Provider}' is not supported.");
        }
    }

    private static HttpClient CreateHttpClient(string role, IServiceProvider services, TimeSpan timeout)
    {
        var factory = services.GetService<IHttpClientFactory>();
        var http = factory?.CreateClient(HttpClientName(role)) ?? new HttpClient();
        http.Timeout = timeout;
        return http;
    }
}
