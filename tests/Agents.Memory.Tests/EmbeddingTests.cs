using System.Numerics.Tensors;
using Agents.Memory.Embeddings;
using Agents.Memory.Tests.Infrastructure;
using Microsoft.Extensions.AI;

namespace Agents.Memory.Tests;

public sealed class EmbeddingTests
{
    private static readonly IEmbeddingGenerator<string, Embedding<float>> Generator = SharedEmbeddings.Generator;

    [Fact]
    public async Task MiniLM_gives_unit_vectors_of_384_dimensions_and_reports_its_model()
    {
        var embeddings = await Generator.GenerateAsync(["The invoice was paid on Monday.", "Kubernetes pods restart on failure."]);

        Assert.Equal(2, embeddings.Count);
        Assert.All(embeddings, e =>
        {
            Assert.Equal(MiniLmEmbeddingGenerator.Dimensions, e.Vector.Length);
            Assert.InRange(TensorPrimitives.Norm(e.Vector.Span), 0.999f, 1.001f);
        });
        var metadata = Generator.GetService<EmbeddingGeneratorMetadata>();
        Assert.Equal(MiniLmEmbeddingGenerator.ModelId, metadata?.DefaultModelId);
        Assert.Equal(384, metadata?.DefaultModelDimensions);
    }

    [Fact]
    public async Task MiniLM_nearest_neighbours_are_semantically_sensible()
    {
        string[] corpus =
        [
            "The customer cannot log in because their password expired.",
            "Our office cafeteria serves lunch from noon until two.",
            "The quarterly revenue grew by twelve percent.",
            "A cat is sleeping on the warm windowsill.",
            "The database server ran out of disk space last night.",
        ];
        (string Query, int Expected)[] cases =
        [
            ("How do I reset a forgotten account password?", 0),
            ("When is the canteen open for meals?", 1),
            ("Sales and income went up this quarter.", 2),
            ("A kitten naps in the sun by the window.", 3),
            ("The storage volume on the DB host is full.", 4),
        ];

        var documents = await Generator.GenerateAsync(corpus);
        foreach (var (query, expected) in cases)
        {
            var q = (await Generator.GenerateAsync([query]))[0].Vector;
            var similarities = documents.Select(d => TensorPrimitives.Dot(d.Vector.Span, q.Span)).ToArray();
            var best = Array.IndexOf(similarities, similarities.Max());
            Assert.True(best == expected, $"'{query}' was nearest to '{corpus[best]}' ({similarities[best]:F3}), expected '{corpus[expected]}' ({similarities[expected]:F3}).");
        }
    }
}
