using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Agents.Memory.VectorSearch;

/// <summary>
/// Scalar quantization for the first pass of a scan: each stored vector becomes one byte per
/// dimension (its signed int8 code + 128) plus a scale (max |x| / 127): a quarter of the memory
/// traffic of floats, which is what bounds a brute-force scan at 100k x 384. The best candidates
/// are then re-scored exactly. The dot product uses AVX-VNNI (u8 x s8 -> s32, no saturation) where
/// the CPU has it, else AVX2 widening multiply-add, else scalar code; the +128 offset is removed with
/// <c>128 * sum(query codes)</c>.
/// </summary>
internal static class Int8Dot
{
    public const int Offset = 128;

    /// <summary>Writes the signed codes of <paramref name="vector"/> and returns its scale.</summary>
    public static float Quantize(ReadOnlySpan<float> vector, Span<sbyte> codes)
    {
        var max = 0f;
        foreach (var x in vector)
        {
            max = MathF.Max(max, MathF.Abs(x));
        }

        if (max == 0)
        {
            codes.Clear();
            return 0;
        }

        var scale = max / 127f;
        for (var i = 0; i < vector.Length; i++)
        {
            codes[i] = (sbyte)Math.Clamp(MathF.Round(vector[i] / scale), -127, 127);
        }

        return scale;
    }

    /// <summary>Stored form: signed codes shifted by +128 into bytes.</summary>
    public static float QuantizeStored(ReadOnlySpan<float> vector, Span<byte> stored)
    {
        Span<sbyte> codes = stackalloc sbyte[vector.Length];
        var scale = Quantize(vector, codes);
        for (var i = 0; i < codes.Length; i++)
        {
            stored[i] = (byte)(codes[i] + Offset);
        }

        return scale;
    }

    /// <summary>A quantized query, prepared once per search.</summary>
    public sealed class Query
    {
        public Query(ReadOnlySpan<float> vector)
        {
            Codes = new sbyte[vector.Length];
            Scale = Quantize(vector, Codes);
            Wide = new short[vector.Length];
            var sum = 0;
            for (var i = 0; i < Codes.Length; i++)
            {
                Wide[i] = Codes[i];
                sum += Codes[i];
            }

            Correction = Offset * sum;
        }

        public sbyte[] Codes { get; }

        public short[] Wide { get; }

        public float Scale { get; }

        public int Correction { get; }
    }

    /// <summary>The integer dot product of a stored (offset) vector and the query's signed codes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Dot(ReadOnlySpan<byte> stored, Query query)
    {
        var length = stored.Length;
        if (AvxVnni.IsSupported && length % 64 == 0)
        {
            ref var a = ref MemoryMarshal.GetReference(stored);
            ref var b = ref MemoryMarshal.GetArrayDataReference(query.Codes);
            var sum0 = Vector256<int>.Zero;
            var sum1 = Vector256<int>.Zero;
            for (var i = 0; i < length; i += 64)
            {
                sum0 = AvxVnni.MultiplyWideningAndAdd(sum0, Vector256.LoadUnsafe(ref a, (nuint)i), Vector256.LoadUnsafe(ref b, (nuint)i));
                sum1 = AvxVnni.MultiplyWideningAndAdd(sum1, Vector256.LoadUnsafe(ref a, (nuint)(i + 32)), Vector256.LoadUnsafe(ref b, (nuint)(i + 32)));
            }

            return Vector256.Sum(Avx2.Add(sum0, sum1)) - query.Correction;
        }

        if (Avx2.IsSupported && length % 32 == 0)
        {
            ref var a = ref MemoryMarshal.GetReference(stored);
            ref var b = ref MemoryMarshal.GetArrayDataReference(query.Wide);
            var sum0 = Vector256<int>.Zero;
            var sum1 = Vector256<int>.Zero;
            for (var i = 0; i < length; i += 32)
            {
                var a0 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref a, (nuint)i)).AsInt16();
                var a1 = Avx2.ConvertToVector256Int16(Vector128.LoadUnsafe(ref a, (nuint)(i + 16))).AsInt16();
                sum0 = Avx2.Add(sum0, Avx2.MultiplyAddAdjacent(a0, Vector256.LoadUnsafe(ref b, (nuint)i)));
                sum1 = Avx2.Add(sum1, Avx2.MultiplyAddAdjacent(a1, Vector256.LoadUnsafe(ref b, (nuint)(i + 16))));
            }

            return Vector256.Sum(Avx2.Add(sum0, sum1)) - query.Correction;
        }

        return Scalar(stored, query);
    }

    /// <summary>The portable version (also the reference for tests).</summary>
    public static int Scalar(ReadOnlySpan<byte> stored, Query query)
    {
        var total = 0;
        for (var i = 0; i < stored.Length; i++)
        {
            total += stored[i] * query.Codes[i];
        }

        return total - query.Correction;
    }
}
