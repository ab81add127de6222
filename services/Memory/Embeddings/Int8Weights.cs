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
    private const int NodeInput = 1, NodeOutput = 2, NodeName = 3, NodeOpType = 4, NodeDomain = 7;
    private const int TensorDims = 1, TensorDataType = 2, TensorFloatData = 4, TensorName = 8, TensorRawData = 9;
    private const int OpsetDomain = 1, OpsetVersion = 2;
    private const int Float = 1, Int8 = 3;

    /// <summary>The rewritten model and how many matrices were quantized.</summary>
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
        var opset = new Writer();
        opset.String(OpsetDomain, "com.microsoft");
        opset.Varint(OpsetVersion, 1);
        fields.Add(new Field(ModelOpsetImport, 2, 0, opset.ToArray()));
        return (Write(fields), quantized);
    }

    private static (byte[] Graph, int Quantized) RewriteGraph(byte[] graph)
    {
        var fields = Read(graph);
        var initializers = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var field in fields.Where(f => f.Number == GraphInitializer))
        {
            var tensor = ReadTensor(field.Payload);
            initializers.TryAdd(tensor.Name, tensor);
        }

        var nodes = fields.Where(f => f.Number == GraphNode).Select(f => ReadNode(f.Payload)).ToList();
        var uses = nodes.SelectMany(n => n.Inputs).GroupBy(i => i, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var replaced = new HashSet<string>(StringComparer.Ordinal);
        var added = new List<byte[]>();
        var output = new List<Field>(fields.Count);
        foreach (var field in fields)
        {
            if (field.Number == GraphNode)
            {
                var node = ReadNode(field.Payload);
                if (node is { OpType: "MatMul", Domain: "", Inputs.Count: 2 }
                    && initializers.TryGetValue(node.Inputs[1], out var weights)
                    && weights is { DataType: Float, Dims.Length: 2 }
                    && uses[node.Inputs[1]] == 1)
                {
                    var (values, scales) = QuantizeColumns(weights);
                    var name = weights.Name;
                    added.Add(WriteTensor($"{name}_int8", Int8, weights.Dims, Array.ConvertAll(values, v => (byte)v)));
                    added.Add(WriteTensor($"{name}_scale", Float, [weights.Dims[1]], FloatBytes(scales)));
                    replaced.Add(name);
                    output.Add(field with { Payload = WriteNode(node.Name, "DynamicQuantizeMatMul", "com.microsoft", [node.Inputs[0], $"{name}_int8", $"{name}_scale"], node.Outputs) });
                    continue;
                }
            }

            output.Add(field);
        }

        // A graph may list its initializers before its nodes: the replaced matrices are dropped once all nodes are seen.
        output.RemoveAll(f => f.Number == GraphInitializer && replaced.Contains(ReadTensor(f.Payload).Name));
        output.AddRange(added.Select(payload => new Field(GraphInitializer, 2, 0, payload)));
        return (Write(output), replaced.Count);
    }

    /// <summary>Symmetric per-column quantization of a row-major [K, N] matrix: value ≈ int8 × scale[column].</summary>
    private static (sbyte[] Values, float[] Scales) QuantizeColumns(Tensor weights)
    {
        var rows = checked((int)weights.Dims[0]);
        var columns = checked((int)weights.Dims[1]);
        var data = weights.Floats();
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

    private static Node ReadNode(byte[] payload)
    {
        var node = new Node();
        foreach (var field in Read(payload))
        {
            switch (field.Number)
            {
                case NodeInput: node.Inputs.Add(Encoding.UTF8.GetString(field.Payload)); break;
                case NodeOutput: node.Outputs.Add(Encoding.UTF8.GetString(field.Payload)); break;
                case NodeName: node.Name = Encoding.UTF8.GetString(field.Payload); break;
                case NodeOpType: node.OpType = Encoding.UTF8.GetString(field.Payload); break;
                case NodeDomain: node.Domain = Encoding.UTF8.GetString(field.Payload); break;
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

    private static Tensor ReadTensor(byte[] payload)
    {
        var tensor = new Tensor();
        var dims = new List<long>();
        foreach (var field in Read(payload))
        {
            switch (field.Number)
            {
                case TensorDims when field.WireType == 0: dims.Add((long)field.Value); break;
                case TensorDims: dims.AddRange(PackedVarints(field.Payload)); break;
                case TensorDataType: tensor.DataType = (int)field.Value; break;
                case TensorFloatData when field.WireType == 2: tensor.FloatData = field.Payload; break;
                case TensorName: tensor.Name = Encoding.UTF8.GetString(field.Payload); break;
                case TensorRawData: tensor.RawData = field.Payload; break;
            }
        }

        tensor.Dims = [.. dims];
        return tensor;
    }

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

    private static IEnumerable<long> PackedVarints(byte[] payload)
    {
        var position = 0;
        while (position < payload.Length)
        {
            yield return (long)ReadVarint(payload, ref position);
        }
    }

    private static List<Field> Read(byte[] message)
    {
        var fields = new List<Field>();
        var position = 0;
        while (position < message.Length)
        {
            var tag = ReadVarint(message, ref position);
            var number = (int)(tag >> 3);
            var wireType = (int)(tag & 7);
            switch (wireType)
            {
                case 0:
                    fields.Add(new Field(number, 0, ReadVarint(message, ref position), []));
                    break;
                case 1:
                    fields.Add(new Field(number, 1, 0, message[position..(position + 8)]));
                    position += 8;
                    break;
                case 2:
                    var length = checked((int)ReadVarint(message, ref position));
                    fields.Add(new Field(number, 2, 0, message[position..(position + length)]));
                    position += length;
                    break;
                case 5:
                    fields.Add(new Field(number, 5, 0, message[position..(position + 4)]));
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type {wireType} in the model (field {number}).");
            }
        }

        return fields;
    }

    private static ulong ReadVarint(byte[] buffer, ref int position)
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
        var writer = new Writer();
        foreach (var field in fields)
        {
            writer.Raw(field);
        }

        return writer.ToArray();
    }

    private sealed record Field(int Number, int WireType, ulong Value, byte[] Payload);

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
        public byte[]? RawData { get; set; }
        public byte[]? FloatData { get; set; }

        public float[] Floats()
        {
            var bytes = RawData ?? FloatData ?? throw new InvalidDataException($"Initializer '{Name}' keeps its data outside the model.");
            var values = new float[bytes.Length / sizeof(float)];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
            }

            return values;
        }
    }

    private sealed class Writer
    {
        private readonly MemoryStream _stream = new();

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

            _stream.Write(field.Payload);
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
