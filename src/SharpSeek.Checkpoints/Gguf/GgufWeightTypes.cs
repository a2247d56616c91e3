using SharpSeek.Model;
using SharpSeek.Tensors;

namespace SharpSeek.Checkpoints.Gguf;

/// <summary>Which dtype each tensor of a GGUF file gets.</summary>
public static class GgufWeightTypes
{
    public static IReadOnlyList<DType> Writable { get; } = [DType.F32, DType.F16, DType.BF16, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K];

    /// <summary>The dtype of <paramref name="tensor"/> in a file whose weights are <paramref name="weightType"/> (see <see cref="GgufWriteOptions.WeightType"/>).</summary>
    public static DType For(TensorSpec tensor, DType weightType, DType? embeddingType = null)
    {
        if (!Writable.Contains(weightType)) throw new ArgumentException($"{weightType} cannot be written to GGUF; use one of {string.Join(", ", Writable)}");
        if (tensor.KeepsF32) return DType.F32;
        var want = tensor.Role is TensorRole.Embedding or TensorRole.OutputHead && embeddingType is { } e ? e : weightType;
        return Fallback(want, tensor.FanIn);
    }

    /// <summary><paramref name="want"/>, or the nearest type whose blocks divide a row of <paramref name="rowLength"/>.</summary>
    public static DType Fallback(DType want, int rowLength)
    {
        if (rowLength % DTypeInfo.BlockElements(want) == 0) return want;
        if (want is DType.Q4_K or DType.Q6_K && rowLength % DTypeInfo.BlockElements(DType.Q8_0) == 0) return DType.Q8_0;
        return DType.F16;
    }

    /// <summary>llama.cpp's <c>general.file_type</c> (llama_ftype) for a file whose weights are mostly <paramref name="weightType"/>.</summary>
    public static uint FileType(DType weightType) => weightType switch
    {
        DType.F32 => 0,
        DType.F16 => 1,
        DType.Q4_0 => 2,
        DType.Q8_0 => 7,
        DType.Q4_K => 15, // Q4_K_M
        DType.Q6_K => 18,
        DType.BF16 => 32,
        _ => throw new ArgumentException($"{weightType} has no llama.cpp file type"),
    };
}
