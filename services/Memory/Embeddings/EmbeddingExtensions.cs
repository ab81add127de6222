using System.ClientModel;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;

namespace Agents.Memory.Embeddings;

internal static class EmbeddingExtensions
{
    /// <summary>Registers the configured <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> unless one is registered already.</summary>
    public static IServiceCollection AddMemoryEmbeddings(this IServiceCollection services)
    {
        services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(sp =>
        {
            var settings = sp.GetRequiredService<IOptions<MemoryOptions>>().Value.Embeddings;
            return settings.Provider switch
            {
                EmbeddingProvider.OpenAI => CreateOpenAi(settings),
                _ => new MiniLmEmbeddingGenerator(settings.Int8),
            };
        });
        return services;
    }

    /// <summary>Embeds one text as a unit-length vector.</summary>
    public static async Task<float[]> EmbedAsync(this IEmbeddingGenerator<string, Embedding<float>> generator, string text, int? dimensions, CancellationToken cancellationToken)
    {
        var options = dimensions is null ? null : new EmbeddingGenerationOptions { Dimensions = dimensions };
        var embeddings = await generator.GenerateAsync([text], options, cancellationToken);
        var vector = embeddings[0].Vector.ToArray();
        VectorMath.Normalize(vector);
        return vector;
    }

    private static IEmbeddingGenerator<string, Embedding<float>> CreateOpenAi(EmbeddingSettings settings)
    {
        // Any OpenAI-compatible server (OpenAI, Azure OpenAI's v1 endpoint, vLLM, llama.cpp, Ollama's /v1).
        var client = new OpenAIClient(
            new ApiKeyCredential(string.IsNullOrEmpty(settings.ApiKey) ? "unused" : settings.ApiKey),
            new OpenAIClientOptions { Endpoint = settings.Endpoint });
        return client.GetEmbeddingClient(settings.Model!).AsIEmbeddingGenerator(settings.Dimensions);
    }
}
