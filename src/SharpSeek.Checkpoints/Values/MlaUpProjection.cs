namespace SharpSeek.Checkpoints;

/// <summary>
/// MLA's up-projection in its two layouts. HF stores one <c>kv_b_proj</c> [nh·(dn+dv), r] (per head: dn key rows, then
/// dv value rows); llama.cpp stores <c>attn_k_b</c> = per head W_kbᵀ, [nh, r, dn], and <c>attn_v_b</c> = per head W_vb,
/// [nh, dv, r]. These convert either way without changing a single value.
/// </summary>
public static class MlaUpProjection
{
    /// <summary>k_b_proj [nh, r, dn] from kv_b_proj: k_b[h, j, i] = kv_b[h·(dn+dv) + i, j].</summary>
    public static TensorValues KeysFromFused(TensorValues fused, int heads, int nopeDim, int valueDim)
    {
        int r = CheckFused(fused, heads, nopeDim, valueDim);
        return new TransformedTensorValues([heads, r, nopeDim], fused, kvb =>
        {
            var kb = new float[(long)heads * r * nopeDim];
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < nopeDim; i++)
                {
                    long src = ((long)h * (nopeDim + valueDim) + i) * r;
                    for (int j = 0; j < r; j++) kb[((long)h * r + j) * nopeDim + i] = kvb[src + j];
                }
            return kb;
        });
    }

    /// <summary>v_b_proj [nh, dv, r] from kv_b_proj: the value rows of each head, unchanged.</summary>
    public static TensorValues ValuesFromFused(TensorValues fused, int heads, int nopeDim, int valueDim)
    {
        int r = CheckFused(fused, heads, nopeDim, valueDim);
        var rows = new long[(long)heads * valueDim];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < valueDim; i++) rows[h * valueDim + i] = (long)h * (nopeDim + valueDim) + nopeDim + i;
        return new SelectedRowsTensorValues(fused, [heads, valueDim, r], rows);
    }

    /// <summary>kv_b_proj [nh·(dn+dv), r] from k_b_proj [nh, r, dn] and v_b_proj [nh, dv, r].</summary>
    public static TensorValues FusedFromSplit(TensorValues keys, TensorValues values)
    {
        if (keys.Shape.Length != 3 || values.Shape.Length != 3 || keys.Shape[0] != values.Shape[0] || keys.Shape[1] != values.Shape[2])
            throw new ArgumentException($"k_b_proj [{string.Join(", ", keys.Shape)}] and v_b_proj [{string.Join(", ", values.Shape)}] do not fit together (expected [nh, r, dn] and [nh, dv, r])");
        int heads = keys.Shape[0], r = keys.Shape[1], dn = keys.Shape[2], dv = values.Shape[1];
        return new FusedValues(keys, values, heads, r, dn, dv);
    }

    private static int CheckFused(TensorValues fused, int heads, int nopeDim, int valueDim)
    {
        if (fused.Shape.Length != 2 || fused.Shape[0] != heads * (nopeDim + valueDim))
            throw new ArgumentException($"kv_b_proj [{string.Join(", ", fused.Shape)}] does not have {heads}·({nopeDim}+{valueDim}) rows");
        return fused.Cols;
    }

    private sealed class FusedValues(TensorValues keys, TensorValues values, int heads, int r, int dn, int dv)
        : TensorValues([heads * (dn + dv), r])
    {
        private float[]? _keys;
        private readonly object _lock = new();

        protected override void Read(long firstRow, int count, Span<float> destination)
        {
            float[] kb;
            lock (_lock) kb = _keys ??= keys.ReadAll();
            for (int t = 0; t < count; t++)
            {
                long row = firstRow + t;
                int h = (int)(row / (dn + dv)), i = (int)(row % (dn + dv));
                var dst = destination.Slice(t * r, r);
                if (i < dn)
                    for (int j = 0; j < r; j++) dst[j] = kb[((long)h * r + j) * dn + i];
                else values.ReadRows((long)h * dv + (i - dn), 1, dst);
            }
        }
    }
}
