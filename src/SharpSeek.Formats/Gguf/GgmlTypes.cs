using SharpSeek.Tensors;

namespace SharpSeek.Formats.Gguf;

/// <summary>ggml tensor type ids (as stored in GGUF tensor infos) and their mapping to <see cref="DType"/>.</summary>
public static class GgmlTypes
{
    public const uint F32 = 0;
    public const uint F16 = 1;
    public const uint Q4_0 = 2;
    public const uint Q8_0 = 8;
    public const uint Q4_K = 12;
    public const uint Q6_K = 14;
    public const uint I32 = 26;
    public const uint BF16 = 30;

    // Names of every id ggml has used, so an error about a type we cannot load says which one it is.
    private static readonly string?[] Names =
    [
        "F32", "F16", "Q4_0", "Q4_1", "Q4_2 (removed)", "Q4_3 (removed)", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
        "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
        "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M",
        "BF16", "Q4_0_4_4 (removed)", "Q4_0_4_8 (removed)", "Q4_0_8_8 (removed)", "TQ1_0", "TQ2_0",
    ];

    /// <summary>ggml's name for a type id, or "unknown" when the id is outside ggml's range.</summary>
    public static string Name(uint ggmlType) => ggmlType < Names.Length ? Names[ggmlType]! : "unknown";

    /// <summary>The dtype a ggml type loads as, if this codebase can hold it.</summary>
    public static bool TryToDType(uint ggmlType, out DType dtype)
    {
        (bool ok, dtype) = ggmlType switch
        {
            F32 => (true, DType.F32),
            F16 => (true, DType.F16),
            BF16 => (true, DType.BF16),
            I32 => (true, DType.I32),
            Q8_0 => (true, DType.Q8_0),
            Q4_0 => (true, DType.Q4_0),
            Q4_K => (true, DType.Q4_K),
            Q6_K => (true, DType.Q6_K),
            _ => (false, default),
        };
        return ok;
    }

    /// <summary>The ggml id a dtype is stored as; throws for dtypes GGUF cannot hold (F8E4M3, the Q8_K activation format).</summary>
    public static uint FromDType(DType dtype) => dtype switch
    {
        DType.F32 => F32,
        DType.F16 => F16,
        DType.BF16 => BF16,
        DType.I32 => I32,
        DType.Q8_0 => Q8_0,
        DType.Q4_0 => Q4_0,
        DType.Q4_K => Q4_K,
        DType.Q6_K => Q6_K,
        _ => throw new ArgumentException($"{dtype} has no GGUF (ggml) tensor type; convert it to a supported dtype first", nameof(dtype)),
    };
}
