namespace SharpSeek.Checkpoints;

/// <summary>
/// llama.cpp's converter reorders the rows of Llama's q_proj/k_proj (and their biases) so that RoPE can rotate adjacent
/// pairs (its "norm" mode) instead of HF's halves: within each head, row <c>2i + j</c> of the GGUF weight is row
/// <c>j·(d/2) + i</c> of the HF weight. Converting back applies the inverse.
/// </summary>
public static class RotaryPairing
{
    /// <summary>HF (halves) order → GGUF (interleaved) order.</summary>
    public static TensorValues HalvesToInterleaved(TensorValues hf, int heads) => Reorder(hf, heads, inverse: false);

    /// <summary>GGUF (interleaved) order → HF (halves) order.</summary>
    public static TensorValues InterleavedToHalves(TensorValues gguf, int heads) => Reorder(gguf, heads, inverse: true);

    private static TensorValues Reorder(TensorValues values, int heads, bool inverse)
    {
        // A weight [heads·d, in] reorders rows; a bias [heads·d] reorders elements.
        bool vector = values.Shape.Length == 1;
        long[] map = InterleavedSources(vector ? values.Cols : values.Rows, heads);
        if (inverse)
        {
            var inv = new long[map.Length];
            for (long i = 0; i < map.LongLength; i++) inv[map[i]] = i;
            map = inv;
        }
        if (!vector) return new SelectedRowsTensorValues(values, values.Shape, map);
        return new TransformedTensorValues(values.Shape, values, v =>
        {
            var result = new float[v.Length];
            for (int i = 0; i < v.Length; i++) result[i] = v[map[i]];
            return result;
        });
    }

    /// <summary>For each interleaved position, the halves position it comes from.</summary>
    private static long[] InterleavedSources(long count, int heads)
    {
        if (heads <= 0 || count % heads != 0 || count / heads % 2 != 0)
            throw new ArgumentException($"{count} rows do not split into {heads} heads of an even width");
        long d = count / heads, half = d / 2;
        var map = new long[count];
        for (long h = 0; h < heads; h++)
            for (long i = 0; i < half; i++)
                for (long j = 0; j < 2; j++) map[h * d + 2 * i + j] = h * d + j * half + i;
        return map;
    }
}
