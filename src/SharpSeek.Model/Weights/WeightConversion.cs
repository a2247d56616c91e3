using SharpSeek.Tensors;
using SharpSeek.Tensors.Backend;

namespace SharpSeek.Model;

/// <summary>Whole-tensor dequantisation, used once while binding weights (never per token).</summary>
internal static class WeightConversion
{
    /// <summary>All elements of <paramref name="t"/> (any dtype, any rank, contiguous) as F32, row-major.</summary>
    public static float[] ToF32(IComputeBackend backend, Tensor t)
    {
        if (t.ElementCount > Array.MaxLength) throw new ArgumentException($"{t} is too large to convert in one piece");
        if (t.DType == DType.F32 && t.IsContiguous) return t.AsSpan<float>().ToArray();
        // The embedding gather dequantises rows of any dtype; view the tensor as a [rows, cols] table.
        var table = t.Rank == 2 ? t : t.Reshape((int)t.Rows, t.Cols);
        var ids = new int[table.Shape[0]];
        for (int i = 0; i < ids.Length; i++) ids[i] = i;
        var result = new float[t.ElementCount];
        backend.Embed(table, ids, result);
        return result;
    }
}
