using System.Runtime.InteropServices;

namespace SharpSeek.Tensors.Quantization;

/// <summary>
/// Encodes f32 data into every storable <see cref="DType"/> and decodes it back. Block formats are byte-exact with GGML,
/// so rows read from a GGUF file decode here exactly as llama.cpp decodes them, and rows written here load in llama.cpp.
/// The quantizers choose their own scales (they need not reproduce llama.cpp's bits) but always emit valid encodings.
/// </summary>
public static unsafe partial class BlockQuantizer
{
    /// <summary>
    /// Encodes <paramref name="src"/> as <paramref name="type"/> into <paramref name="dst"/>, which must be exactly
    /// <c>DTypeInfo.ByteCount(type, src.Length)</c> bytes. F8E4M3 here is the raw code per element (no block scale:
    /// use <see cref="Fp8BlockQuantizer"/> for DeepSeek-style scaled weights).
    /// </summary>
    public static void Quantize(DType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        long need = CheckedByteCount(type, src.Length, "source");
        if (dst.Length != need)
            throw new ArgumentException($"{type}: {src.Length} elements encode to {need} bytes but the destination holds {dst.Length}", nameof(dst));
        switch (type)
        {
            case DType.F32: MemoryMarshal.AsBytes(src).CopyTo(dst); break;
            case DType.F16: Fp16Codec.FromSingle(src, MemoryMarshal.Cast<byte, ushort>(dst)); break;
            case DType.BF16: Bf16Codec.FromSingle(src, MemoryMarshal.Cast<byte, ushort>(dst)); break;
            case DType.F8E4M3: Fp8E4M3Codec.FromSingle(src, dst); break;
            case DType.Q8_0: QuantizeQ8_0(src, dst); break;
            case DType.Q4_0: QuantizeQ4_0(src, dst); break;
            case DType.Q4_K: QuantizeQ4_K(src, dst); break;
            case DType.Q6_K: QuantizeQ6_K(src, dst); break;
            case DType.Q8_K: QuantizeQ8_K(src, dst); break;
            default: throw new NotSupportedException($"cannot encode floats as {type}");
        }
    }

    /// <summary>Encodes into a new array of exactly the right size.</summary>
    public static byte[] Quantize(DType type, ReadOnlySpan<float> src)
    {
        var dst = new byte[CheckedByteCount(type, src.Length, "source")];
        Quantize(type, src, dst);
        return dst;
    }

    /// <summary>
    /// Decodes <paramref name="dst"/>.Length elements of <paramref name="type"/> from <paramref name="src"/>, which must be
    /// exactly <c>DTypeInfo.ByteCount(type, dst.Length)</c> bytes.
    /// </summary>
    public static void Dequantize(DType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        long need = CheckedByteCount(type, dst.Length, "destination");
        if (src.Length != need)
            throw new ArgumentException($"{type}: {dst.Length} elements take {need} bytes but the source holds {src.Length}", nameof(src));
        switch (type)
        {
            case DType.F32: MemoryMarshal.Cast<byte, float>(src).CopyTo(dst); break;
            case DType.F16: Fp16Codec.ToSingle(MemoryMarshal.Cast<byte, ushort>(src), dst); break;
            case DType.BF16: Bf16Codec.ToSingle(MemoryMarshal.Cast<byte, ushort>(src), dst); break;
            case DType.F8E4M3: Fp8E4M3Codec.ToSingle(src, dst); break;
            case DType.I32:
                var ints = MemoryMarshal.Cast<byte, int>(src);
                for (int i = 0; i < ints.Length; i++) dst[i] = ints[i];
                break;
            case DType.Q8_0: DequantizeQ8_0(src, dst); break;
            case DType.Q4_0: DequantizeQ4_0(src, dst); break;
            case DType.Q4_K: DequantizeQ4_K(src, dst); break;
            case DType.Q6_K: DequantizeQ6_K(src, dst); break;
            case DType.Q8_K: DequantizeQ8_K(src, dst); break;
            default: throw new NotSupportedException($"cannot decode {type}");
        }
    }

    /// <summary>
    /// Decodes row <paramref name="row"/> of <paramref name="t"/> (all dims but the last flattened) into
    /// <paramref name="dst"/> (exactly <c>t.Cols</c> floats). F8E4M3 tensors apply their 128×128
    /// <see cref="Tensor.BlockScales"/>: w[i,j] = fp8[i,j] · scale[i/128, j/128]; an F8E4M3 tensor without scales decodes the raw codes.
    /// </summary>
    public static void DequantizeRow(Tensor t, long row, Span<float> dst)
    {
        ArgumentNullException.ThrowIfNull(t);
        int cols = t.Cols;
        if (dst.Length != cols) throw new ArgumentException($"row of {t} has {cols} elements but the destination holds {dst.Length}", nameof(dst));
        if ((ulong)row >= (ulong)t.Rows) throw new ArgumentOutOfRangeException(nameof(row), row, $"{t} has {t.Rows} rows");
        if (!DTypeInfo.IsBlockQuantized(t.DType) && t.Rank >= 1 && t.Strides[^1] != 1)
        {
            // A strided view (e.g. a transposed slice): gather element by element.
            long rowStart = RowStartElement(t, row);
            int es = DTypeInfo.BlockBytes(t.DType);
            for (int j = 0; j < cols; j++)
                dst[j] = DecodeElement(t.DType, t.Data + (rowStart + j * t.Strides[^1]) * es);
        }
        else
        {
            Dequantize(t.DType, t.RowBytes(row), dst);
        }
        if (t.DType == DType.F8E4M3 && t.BlockScales is { } scales) ApplyFp8RowScales(scales, row, dst);
    }

    private static long RowStartElement(Tensor t, long row)
    {
        // Unflatten the row index over the leading dimensions.
        long offset = 0;
        for (int d = t.Rank - 2; d >= 0; d--)
        {
            long idx = row % t.Shape[d];
            row /= t.Shape[d];
            offset += idx * t.Strides[d];
        }
        return offset;
    }

    private static float DecodeElement(DType type, byte* p) => type switch
    {
        DType.F32 => *(float*)p,
        DType.F16 => Fp16Codec.ToSingle(*(ushort*)p),
        DType.BF16 => Bf16Codec.ToSingle(*(ushort*)p),
        DType.F8E4M3 => Fp8E4M3Codec.ToSingle(*p),
        DType.I32 => *(int*)p,
        _ => throw new NotSupportedException($"cannot decode single {type} elements"),
    };

    internal static void ApplyFp8RowScales(Tensor scales, long row, Span<float> dst)
    {
        var scaleRow = scales.RowSpan<float>(row / Tensor.Fp8BlockSize);
        for (int b = 0, j = 0; j < dst.Length; b++, j += Tensor.Fp8BlockSize)
        {
            int len = Math.Min(Tensor.Fp8BlockSize, dst.Length - j);
            System.Numerics.Tensors.TensorPrimitives.Multiply(dst.Slice(j, len), scaleRow[b], dst.Slice(j, len));
        }
    }

    private static long CheckedByteCount(DType type, int elements, string what)
    {
        int be = DTypeInfo.BlockElements(type);
        if (elements % be != 0)
            throw new ArgumentException($"{type} stores whole blocks of {be} elements; the {what} has {elements} elements, which is not a multiple of {be}");
        return DTypeInfo.ByteCount(type, elements);
    }

    /// <summary>Round half to even, as the vector paths do (cvtps2dq under the default MXCSR).</summary>
    private static int RoundToInt(float v) => (int)MathF.Round(v, MidpointRounding.ToEven);
}
