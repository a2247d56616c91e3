namespace SharpSeek.Tensors.Kernels;

/// <summary>Arg-max, top-k and sampling over score or logit rows.</summary>
public static class Selection
{
    /// <summary>Index of the largest value (the first one on ties); NaN never wins.</summary>
    public static int Argmax(ReadOnlySpan<float> x)
    {
        if (x.IsEmpty) throw new ArgumentException("Argmax of an empty row");
        int best = 0;
        float bv = float.NegativeInfinity;
        bool found = false;
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i];
            if (!found ? !float.IsNaN(v) : v > bv) { bv = v; best = i; found = true; }
        }
        return best;
    }

    /// <summary>
    /// Indices of the <paramref name="indices"/>.Length largest values in descending order (lower index first on ties).
    /// Partial insertion sort: k is small (experts per token, sampling candidates) so this beats a full sort.
    /// </summary>
    public static void TopK<T>(ReadOnlySpan<T> x, Span<int> indices) where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        int k = indices.Length;
        if (k > x.Length) throw new ArgumentException($"TopK: k={k} exceeds the {x.Length} values");
        if (k == 0) return;
        Span<T> vals = k <= 128 ? stackalloc T[k] : new T[k];
        int filled = 0;
        for (int i = 0; i < x.Length; i++)
        {
            T v = x[i];
            if (T.IsNaN(v)) v = T.NegativeInfinity;
            if (filled == k && !(v > vals[k - 1])) continue;
            int pos = filled < k ? filled++ : k - 1;
            while (pos > 0 && v > vals[pos - 1]) { vals[pos] = vals[pos - 1]; indices[pos] = indices[pos - 1]; pos--; }
            vals[pos] = v;
            indices[pos] = i;
        }
    }
}
