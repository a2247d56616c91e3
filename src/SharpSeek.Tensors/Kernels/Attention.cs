using System.Numerics.Tensors;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

/// <summary>
/// Where the operands of one causal attention call live. All strides are in floats. Query token t sits at absolute
/// position <see cref="FirstPosition"/> + t and sees the cached keys/values at positions 0 … FirstPosition + t.
/// Query head h reads key/value head h / (QueryHeads / KvHeads), which covers multi-head (KvHeads = QueryHeads),
/// grouped-query and multi-query (KvHeads = 1) attention: absorbed MLA is the last, with the latent as both key
/// prefix and value (values may alias keys).
/// </summary>
public readonly record struct AttentionLayout(
    int Tokens, int FirstPosition, int QueryHeads, int KvHeads, int KeyDim, int ValueDim,
    int QueryTokenStride, int QueryHeadStride,
    int KeyRowStride, int KeyHeadStride,
    int ValueRowStride, int ValueHeadStride,
    int OutputTokenStride, int OutputHeadStride,
    float Scale)
{
    /// <summary>Cached positions the last query token sees.</summary>
    public int KvLength => FirstPosition + Tokens;

    public void Validate(int qLength, int kLength, int vLength, int outLength)
    {
        if (Tokens <= 0 || QueryHeads <= 0 || KvHeads <= 0 || KeyDim <= 0 || ValueDim <= 0 || FirstPosition < 0)
            throw new ArgumentException($"attention: tokens {Tokens}, first position {FirstPosition}, heads {QueryHeads}/{KvHeads}, dims {KeyDim}/{ValueDim} must be positive");
        if (QueryHeads % KvHeads != 0)
            throw new ArgumentException($"attention: {QueryHeads} query heads do not share {KvHeads} key/value heads evenly");
        Need("queries", qLength, (long)(Tokens - 1) * QueryTokenStride + (long)(QueryHeads - 1) * QueryHeadStride + KeyDim);
        Need("keys", kLength, (long)(KvLength - 1) * KeyRowStride + (long)(KvHeads - 1) * KeyHeadStride + KeyDim);
        Need("values", vLength, (long)(KvLength - 1) * ValueRowStride + (long)(KvHeads - 1) * ValueHeadStride + ValueDim);
        Need("output", outLength, (long)(Tokens - 1) * OutputTokenStride + (long)(QueryHeads - 1) * OutputHeadStride + ValueDim);

        static void Need(string what, int have, long need)
        {
            if (have < need) throw new ArgumentException($"attention: {what} need {need} floats for this layout, got {have}");
        }
    }
}

/// <summary>Causal scaled-dot-product attention over a cache (one kernel for MHA, GQA, MQA and absorbed MLA).</summary>
public static unsafe class Attention
{
    /// <summary>Floats of score scratch <see cref="Causal"/> needs: one row of <see cref="AttentionLayout.KvLength"/> per pool thread.</summary>
    public static int ScratchLength(in AttentionLayout layout, ComputePool pool) => checked(pool.ThreadCount * layout.KvLength);

    /// <summary>
    /// output[t, h, :ValueDim] = Σ_s softmax_s(Scale · q[t,h]·k[s,g]) · v[s,g] over s ≤ FirstPosition + t.
    /// Work is split over (token, head) pairs; each worker keeps its score row in its own slice of <paramref name="scratch"/>.
    /// </summary>
    public static void Causal(in AttentionLayout layout, ReadOnlySpan<float> queries, ReadOnlySpan<float> keys,
        ReadOnlySpan<float> values, Span<float> output, Span<float> scratch, ComputePool? pool = null)
    {
        pool ??= ComputePool.Shared;
        layout.Validate(queries.Length, keys.Length, values.Length, output.Length);
        if (scratch.Length < ScratchLength(layout, pool))
            throw new ArgumentException($"attention: scratch needs {ScratchLength(layout, pool)} floats, got {scratch.Length}");
        fixed (float* q = queries, k = keys, v = values, o = output, s = scratch)
        {
            var body = new Body { L = layout, Q = q, K = k, V = v, O = o, Scores = s };
            int items = layout.Tokens * layout.QueryHeads;
            // Aim for ~32K multiply-adds per chunk so tiny problems do not pay for a fork.
            long perItem = (long)layout.KvLength * (layout.KeyDim + layout.ValueDim);
            int grain = (int)Math.Clamp(32768 / Math.Max(perItem, 1), 1, items);
            pool.For(items, grain, ref body);
        }
    }

    private struct Body : IRangeBody
    {
        public AttentionLayout L;
        public float* Q, K, V, O, Scores;

        public readonly void Execute(int start, int end, int worker)
        {
            int group = L.QueryHeads / L.KvHeads;
            float* scores = Scores + (long)worker * L.KvLength;
            for (int item = start; item < end; item++)
            {
                int t = item / L.QueryHeads, h = item % L.QueryHeads, g = h / group;
                int n = L.FirstPosition + t + 1; // causal: this query sees positions [0, n)
                var q = new ReadOnlySpan<float>(Q + (long)t * L.QueryTokenStride + (long)h * L.QueryHeadStride, L.KeyDim);
                float* kBase = K + (long)g * L.KeyHeadStride;
                for (int p = 0; p < n; p++)
                    scores[p] = L.Scale * TensorPrimitives.Dot(q, new ReadOnlySpan<float>(kBase + (long)p * L.KeyRowStride, L.KeyDim));
                var row = new Span<float>(scores, n);
                Activations.Softmax(row);

                var o = new Span<float>(O + (long)t * L.OutputTokenStride + (long)h * L.OutputHeadStride, L.ValueDim);
                o.Clear();
                float* vBase = V + (long)g * L.ValueHeadStride;
                for (int p = 0; p < n; p++)
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(vBase + (long)p * L.ValueRowStride, L.ValueDim), row[p], o, o);
            }
        }
    }
}
