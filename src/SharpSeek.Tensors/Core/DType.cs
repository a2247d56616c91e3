namespace SharpSeek.Tensors;

/// <summary>Element or block formats a tensor can hold.</summary>
/// <remarks>
/// Plain formats (F32, F16, BF16, F8E4M3, I32) store one value per element.
/// Block formats (Q8_0, Q4_0, Q4_K, Q6_K) store a row as a run of fixed-size blocks, each carrying its own scale(s);
/// their byte layouts are bit-exact with GGML so a GGUF file can be used in place.
/// F8E4M3 weights carry a separate F32 scale tensor of 128×128 blocks (DeepSeek-V3's checkpoint format).
/// </remarks>
public enum DType : byte
{
    F32,
    F16,
    BF16,
    F8E4M3,
    I32,
    Q8_0,
    Q4_0,
    Q4_K,
    Q6_K,
    /// <summary>Activation format for the K-quant dot products: f32 scale + 256 int8 + 16 int16 block sums (never stored in files).</summary>
    Q8_K,
}

public static class DTypeInfo
{
    /// <summary>Elements per block (1 for plain formats).</summary>
    public static int BlockElements(DType t) => t switch
    {
        DType.Q8_0 or DType.Q4_0 => 32,
        DType.Q4_K or DType.Q6_K or DType.Q8_K => 256,
        _ => 1,
    };

    /// <summary>Bytes per block (per element for plain formats).</summary>
    public static int BlockBytes(DType t) => t switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        DType.F8E4M3 => 1,
        DType.Q8_0 => 34,
        DType.Q4_0 => 18,
        DType.Q4_K => 144,
        DType.Q6_K => 210,
        DType.Q8_K => 292,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    public static bool IsBlockQuantized(DType t) => BlockElements(t) > 1;

    /// <summary>Bytes taken by <paramref name="elements"/> contiguous elements; throws if a block format gets a partial block.</summary>
    public static long ByteCount(DType t, long elements)
    {
        if (elements < 0) throw new ArgumentOutOfRangeException(nameof(elements), elements, "element count must be non-negative");
        int be = BlockElements(t);
        if (elements % be != 0)
            throw new ArgumentException($"{t} stores whole blocks of {be} elements; {elements} elements is not a multiple of {be}");
        return checked(elements / be * BlockBytes(t));
    }

    /// <summary>Bytes of one row of <paramref name="cols"/> elements.</summary>
    public static int RowBytes(DType t, int cols) => checked((int)ByteCount(t, cols));
}
