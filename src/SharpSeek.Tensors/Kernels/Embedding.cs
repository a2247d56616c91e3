using SharpSeek.Tensors.Quantization;

namespace SharpSeek.Tensors.Kernels;

/// <summary>Token embedding lookup.</summary>
public static class Embedding
{
    /// <summary>
    /// Writes row <c>ids[i]</c> of the [vocab, d] <paramref name="table"/> (any dtype, FP8 with its block scales) as f32
    /// into <c>output[i·d .. (i+1)·d)</c>.
    /// </summary>
    public static void Gather(Tensor table, ReadOnlySpan<int> ids, Span<float> output)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Rank != 2) throw new ArgumentException($"an embedding table is [vocab, d]; got {table}", nameof(table));
        int vocab = table.Shape[0], d = table.Shape[1];
        if (output.Length != (long)ids.Length * d)
            throw new ArgumentException($"{ids.Length} ids of width {d} need {(long)ids.Length * d} output floats, got {output.Length}", nameof(output));
        // Check every id before writing anything, so a bad batch leaves the output untouched.
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(ids), ids[i], $"token id at position {i} is outside the vocabulary [0, {vocab})");
        for (int i = 0; i < ids.Length; i++)
            BlockQuantizer.DequantizeRow(table, ids[i], output.Slice(i * d, d));
    }
}
