using System.Buffers.Binary;
using System.Text;

namespace Agents.Memory.Embeddings;

/// <summary>
/// Rewrites an ONNX model so that every <c>MatMul</c> by a constant float matrix runs on 8-bit integers: the matrix is
/// stored as int8 with one scale per output column, and the node becomes ONNX Runtime's <c>DynamicQuantizeMatMul</c>,
/// which quantizes the activations per call and multiplies with the machine's integer dot-product instructions.
/// Everything else (embeddings, layer norms, attention scores, softmax) stays in float. The weights are quantized to
/// 7 bits (±63): on processors without VNNI the unsigned × signed 8-bit kernel adds pairs of products in 16 bits,
/// which full-range weights can overflow.
/// Only the parts of the protobuf encoding the rewrite needs are read; every other field is copied as it is.
/// </summary>
internal static class Int8Weights
{
    private const int WeightLimit = 63;

    // ONNX field numbers (onnx.proto): ModelProto, GraphProto, NodeProto, TensorProto, OperatorSetIdProto.
    private const int ModelGraph = 7, ModelOpsetImport = 8;
    private const int GraphNode = 1, GraphInitializer = 5;
    private const int GraphInput = 11, GraphOutput = 12, ValueInfoName = 1;
    private const int NodeInput = 1, NodeOutput = 2, NodeName = 3, NodeOpType = 4, NodeDomain = 7;
    private const int TensorDims = 1, TensorDataType = 2, TensorFloatData = 4, TensorName = 8, TensorRawData = 9, TensorExternalData = 13, TensorDataLocation = 14;
    private const int OpsetDomain = 1, OpsetVersion = 2;
    private const int Float = 1, Int8 = 3;
    private const string MicrosoftDomain = "com.microsoft";

    /// <summary>
    /// The rewritten model and how many matrices were quantized; the model as it is (and 0) when it has nothing to
    /// quantize or a shape this rewrite does not handle (control flow, whose subgraphs may use a matrix too).
    /// </summary>
    public static (byte[] Model, int Quantized) Quantize(byte[] model)
    {
        var fields = Read(model);
        var graphIndex = fields.FindIndex(f => f.Number == ModelGraph);
        if (graphIndex < 0)
        {
            return (model, 0);
        }

        var (graph, quantized) = RewriteGraph(fields[graphIndex].Payload);
        if (quantized == 0)
        {
            return (model, 0);
        }

        fields[graphIndex] = fields[graphIndex] with { Payload = graph };
        var imported = fields.Where(f => f.Number == ModelOpsetImport)
            .Any(f => Read(f.Payload).Any(o => o.Number == OpsetDomain && Text(o) == MicrosoftDomain));
        if (!imported)
        {
            var opset = new Writer();
            opset.String(OpsetDomain, MicrosoftDomain);
            opset.Varint(OpsetVersion, 1);
            fields.Add(new Field(ModelOpsetImport, 2, 0, opset.ToArray()));
        }

        return (Write(fields), quantized);
    }

    private static (byte[] Graph, int Quantized) RewriteGraph(ReadOnlyMemory<byte> graph)
    {
        var fields = Read(graph);
        var nodes = fields.Where(f => f.Number == GraphNode).Select(f => ReadNode(f.Payload)).ToList();
        if (nodes.Any(n => n.OpType is "If" or "Loop" or "Scan"))
        {
            return ([], 0);
        }

        var initializers = new Dictionary<string, (Field Field, Tensor Tensor)>(StringComparer.Ordinal);
        foreach (var field in fields.Where(f => f.Number == GraphInitializer))
        {
            var tensor = ReadTensor(field.Payload);
            initializers.TryAdd(tensor.Name, (field, tensor));
        }

        // A matrix is rewritten only where this node is its one use: not another node's input, nor a graph input
        // (older models list their initializers as inputs too) or output.
        var uses = nodes.SelectMany(n => n.Inputs)
            .Concat(fields.Where(f => f.Number is GraphInput or GraphOutput).SelectMany(f => Read(f.Payload)).Where(f => f.Number == ValueInfoName).Select(Text))
            .GroupBy(name => name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var replaced = new HashSet<ReadOnlyMemory<byte>>();
        var added = new List<byte[]>();
        var output = new List<Field>(fields.Count);
        var nodeIndex = 0;
        foreach (var field in fields)
        {
            if (field.Number == GraphNode
                && nodes[nodeIndex++] is { OpType: "MatMul", Domain: "", Inputs.Count: 2 } node
                && initializers.TryGetValue(node.Inputs[1], out var weights)
                && weights.Tensor is { DataType: Float, Dims.Length: 2, External: false }
                && uses[node.Inputs[1]] == 1
                && weights.Tensor.Floats() is { } data)
            {
                var (values, scales) = QuantizeColumns(data, weights.Tensor.Dims);
                var name = weights.Tensor.Name;
                added.Add(WriteTensor($"{name}_int8", Int8, weights.Tensor.Dims, Array.ConvertAll(values, v => (byte)v)));
                added.Add(WriteTensor($"{name}_scale", Float, [weights.Tensor.Dims[1]], FloatBytes(scales)));
                replaced.Add(weights.Field.Payload);
                output.Add(field with { Payload = WriteNode(node.Name, "DynamicQuantizeMatMul", MicrosoftDomain, [node.Inputs[0], $"{name}_int8", $"{name}_scale"], node.Outputs) });
                continue;
            }

            output.Add(field);
        }

        // A graph may list its initializers before its nodes: the replaced matrices are dropped once all nodes are seen.
        output.RemoveAll(f => f.Number == GraphInitializer && replaced.Contains(f.Payload));
        output.AddRange(added.Select(payload => new Field(GraphInitializer, 2, 0, payload)));
        return (Write(output), replaced.Count);
    }

    /// <summary>Symmetric per-column quantization of a row-major [K, N] matrix: value ≈ int8 × scale[column].</summary>
    private static (sbyte[] Values, float[] Scales) QuantizeColumns(float[] data, long[] dims)
    {
        var rows = checked((int)dims[0]);
        var columns = checked((int)dims[1]);
        var scales = new float[columns];
        for (var row = 0; row < rows; row++)
        {
            for (var column = 0; column < columns; column++)
            {
                scales[column] = Math.Max(scales[column], Math.Abs(data[(row * columns) + column]));
            }
        }

        for (var column = 0; column < columns; column++)
        {
            scales[column] = scales[column] > 0 ? scales[column] / WeightLimit : 1f;
        }

        var values = new sbyte[data.Length];
        for (var i = 0; i < data.Length; i++)
        {
            values[i] = (sbyte)Math.Clamp(MathF.Round(data[i] / scales[i % columns]), -WeightLimit, WeightLimit);
        }

        return (values, scales);
    }

    private static byte[] FloatBytes(float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }

        return bytes;
    }

    private static Node ReadNode(ReadOnlyMemory<byte> payload)
    {
        var node = new Node();
        foreach (var field in Read(payload))
        {
            switch (field.Number)
            {
                case NodeInput: node.Inputs.Add(Text(field)); break;
                case NodeOutput: node.Outputs.Add(Text(field)); break;
                case NodeName: node.Name = Text(field); break;
                case NodeOpType: node.OpType = Text(field); break;
                case NodeDomain: node.Domain = Text(field); break;
            }
        }

        return node;
    }

    private static byte[] WriteNode(string name, string opType, string domain, IEnumerable<string> inputs, IEnumerable<string> outputs)
    {
        var writer = new Writer();
        foreach (var input in inputs)
        {
            writer.String(NodeInput, input);
        }

        foreach (var output in outputs)
        {
            writer.String(NodeOutput, output);
        }

        writer.String(NodeName, name);
        writer.String(NodeOpType, opType);
        writer.String(NodeDomain, domain);
        return writer.ToArray();
    }

    private static Tensor ReadTensor(ReadOnlyMemory<byte> payload)
    {
        var tensor = new Tensor();
        var dims = new List<long>();
        var floats = new List<ReadOnlyMemory<byte>>();
        foreach (var field in Read(payload))
        {
            switch (field.Number)
            {
                case TensorDims when field.WireType == 0: dims.Add((long)field.Value); break;
                case TensorDims: dims.AddRange(PackedVarints(field.Payload.Span)); break;
                case TensorDataType: tensor.DataType = (int)field.Value; break;
                // Packed (one field) or not (a field per value): either way little-endian floats.
                case TensorFloatData: floats.Add(field.Payload); break;
                case TensorName: tensor.Name = Text(field); break;
                case TensorRawData: tensor.RawData = field.Payload; break;
                case TensorExternalData or TensorDataLocation: tensor.External = true; break;
            }
        }

        tensor.Dims = [.. dims];
        tensor.FloatData = floats;
        return tensor;
    }

    private static string Text(Field field) => Encoding.UTF8.GetString(field.Payload.Span);

    private static byte[] WriteTensor(string name, int dataType, long[] dims, byte[] raw)
    {
        var writer = new Writer();
        foreach (var dim in dims)
        {
            writer.Varint(TensorDims, (ulong)dim);
        }

        writer.Varint(TensorDataType, (ulong)dataType);
        writer.String(TensorName, name);
        writer.Bytes(TensorRawData, raw);
        return writer.ToArray();
    }

    private static List<long> PackedVarints(ReadOnlySpan<byte> payload)
    {
        var values = new List<long>();
        var position = 0;
        while (position < payload.Length)
        {
            values.Add((long)ReadVarint(payload, ref position));
        }

        return values;
    }

    // Fields point into the message they were read from (no copies: the model is about 90 MB).
    private static List<Field> Read(ReadOnlyMemory<byte> message)
    {
        var fields = new List<Field>();
        var bytes = message.Span;
        var position = 0;
        while (position < message.Length)
        {
            var tag = ReadVarint(bytes, ref position);
            var number = (int)(tag >> 3);
            var wireType = (int)(tag & 7);
            switch (wireType)
            {
                case 0:
                    fields.Add(new Field(number, 0, ReadVarint(bytes, ref position), ReadOnlyMemory<byte>.Empty));
                    break;
                case 1:
                    fields.Add(new Field(number, 1, 0, message.Slice(position, 8)));
                    position += 8;
                    break;
                case 2:
                    var length = checked((int)ReadVarint(bytes, ref position));
                    fields.Add(new Field(number, 2, 0, message.Slice(position, length)));
                    position += length;
                    break;
                case 5:
                    fields.Add(new Field(number, 5, 0, message.Slice(position, 4)));
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type {wireType} in the model (field {number}).");
            }
        }

        return fields;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> buffer, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = buffer[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new InvalidDataException("A varint in the model is longer than 10 bytes.");
    }

    private static byte[] Write(List<Field> fields)
    {
        var writer = new Writer(fields.Sum(f => f.Payload.Length + 16));
        foreach (var field in fields)
        {
            writer.Raw(field);
        }

        return writer.ToArray();
    }

    private sealed record Field(int Number, int WireType, ulong Value, ReadOnlyMemory<byte> Payload);

    private sealed class Node
    {
        public List<string> Inputs { get; } = [];
        public List<string> Outputs { get; } = [];
        public string Name { get; set; } = string.Empty;
        public string OpType { get; set; } = string.Empty;
        public string Domain { get; set; } = string.Empty;
    }

    private sealed class Tensor
    {
        public string Name { get; set; } = string.Empty;
        public int DataType { get; set; }
        public long[] Dims { get; set; } = [];
        public ReadOnlyMemory<byte>? RawData { get; set; }
        public List<ReadOnlyMemory<byte>> FloatData { get; set; } = [];
        public bool External { get; set; }

        /// <summary>The values, or null when they are not stored in the model as little-endian floats.</summary>
        public float[]? Floats()
        {
            var count = checked((int)(Dims.Aggregate(1L, (a, b) => a * b)));
            var values = new float[count];
            var written = 0;
            foreach (var part in RawData is { } raw ? [raw] : FloatData)
            {
                var bytes = part.Span;
                if (written + (bytes.Length / sizeof(float)) > count)
                {
                    return null;
                }

                for (var i = 0; i + sizeof(float) <= bytes.Length; i += sizeof(float))
                {
                    values[written++] = BinaryPrimitives.ReadSingleLittleEndian(bytes[i..]);
                }
            }

            return written == count ? values : null;
        }
    }

    private sealed class Writer
    {
        private readonly MemoryStream _stream;

        public Writer(int capacity = 256) => _stream = new MemoryStream(capacity);

        public void Varint(int number, ulong value)
        {
            Tag(number, 0);
            WriteVarint(value);
        }

        public void String(int number, string value) => Bytes(number, Encoding.UTF8.GetBytes(value));

        public void Bytes(int number, byte[] value)
        {
            Tag(number, 2);
            WriteVarint((ulong)value.Length);
            _stream.Write(value);
        }

        public void Raw(Field field)
        {
            Tag(field.Number, field.WireType);
            if (field.WireType == 0)
            {
                WriteVarint(field.Value);
                return;
            }

            if (field.WireType == 2)
            {
                WriteVarint((ulong)field.Payload.Length);
            }

            _stream.Write(field.Payload.Span);
        }

        public byte[] ToArray() => _stream.ToArray();

        private void Tag(int number, int wireType) => WriteVarint(((ulong)number << 3) | (uint)wireType);

        private void WriteVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _stream.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _stream.WriteByte((byte)value);
        }
    }
}
