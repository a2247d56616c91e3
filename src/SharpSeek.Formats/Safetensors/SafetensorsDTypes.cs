using SharpSeek.Tensors;

namespace SharpSeek.Formats.Safetensors;

/// <summary>safetensors dtype strings and their mapping to <see cref="DType"/>.</summary>
public static class SafetensorsDTypes
{
    /// <summary>The dtype a safetensors dtype string loads as, if this codebase can hold it.</summary>
    public static bool TryToDType(string name, out DType dtype)
    {
        (bool ok, dtype) = name switch
        {
            "F32" => (true, DType.F32),
            "F16" => (true, DType.F16),
            "BF16" => (true, DType.BF16),
            "F8_E4M3" => (true, DType.F8E4M3),
            "I32" => (true, DType.I32),
            _ => (false, default),
        };
        return ok;
    }

    public static string FromDType(DType dtype) => dtype switch
    {
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        DType.F8E4M3 => "F8_E4M3",
        DType.I32 => "I32",
        _ => throw new ArgumentException($"{dtype} has no safetensors dtype (block-quantised formats belong in GGUF)", nameof(dtype)),
    };

    /// <summary>
    /// Bytes per element of the dtypes the safetensors format defines, including ones we do not load, so their
    /// <c>data_offsets</c> can still be checked. Null for names the format does not define (or packs below a byte).
    /// </summary>
    public static int? ElementBytes(string name) => name switch
    {
        "BOOL" or "U8" or "I8" or "F8_E4M3" or "F8_E5M2" => 1,
        "U16" or "I16" or "F16" or "BF16" => 2,
        "U32" or "I32" or "F32" => 4,
        "U64" or "I64" or "F64" => 8,
        _ => null,
    };
}
