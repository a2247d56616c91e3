using SharpSeek.Tensors;
using SharpSeek.Tensors.Quantization;

namespace SharpSeek.Model;

/// <summary>How <see cref="RandomWeights.Create"/> lays the weights out.</summary>
public sealed record RandomWeightOptions
{
    /// <summary>
    /// Dtype of the matrices: F32, F16, BF16, F8E4M3 (with DeepSeek's 128×128 block scales) or a GGML block format
    /// (Q8_0, Q4_0, Q4_K, Q6_K; every input width must then hold whole blocks). Norms, biases and the router bias stay F32.
    /// </summary>
    public DType MatrixType { get; init; } = DType.F32;
    /// <summary>Store routed experts as [n_experts, out, in] tensors instead of one per expert.</summary>
    public bool StackedExperts { get; init; }
    /// <summary>Store MLA's up-projection as k_b_proj/v_b_proj (GGUF's split layout) instead of kv_b_proj.</summary>
    public bool SplitMlaUpProjection { get; init; }
    /// <summary>Repeat the embedding and head inside the MTP layer as the HF checkpoint does.</summary>
    public bool MtpOwnEmbeddingAndHead { get; init; }
    /// <summary>Magnitude of the selection bias (e_score_correction_bias) relative to the sigmoid scores.</summary>
    public float RouterBiasScale { get; init; } = 0.1f;
}

/// <summary>
/// Seeded random weights for any config, scaled so activations stay O(1) through the blocks. Each tensor draws from
/// its own generator seeded by (seed, tensor name), so the same model comes out whatever the layout options:
/// stacked and separate experts, fused and split MLA projections hold identical values.
/// </summary>
public static class RandomWeights
{
    public static ModelWeights Create(ModelConfig config, int seed, RandomWeightOptions? options = null)
    {
        config.Validate();
        options ??= new RandomWeightOptions();
        if (options.MatrixType is DType.I32 or DType.Q8_K)
            throw new ArgumentException($"{options.MatrixType} is not a weight format");
        var w = new ModelWeights();
        var g = new Generator(w, seed, options.MatrixType);
        int h = config.HiddenSize, v = config.VocabSize;

        g.Matrix(WeightNames.Embedding, v, h, 1f);
        g.Norm(WeightNames.FinalNorm, h);
        if (!config.TieWordEmbeddings) g.Matrix(WeightNames.OutputHead, v, h, 1f / MathF.Sqrt(h));

        int layers = config.NumHiddenLayers + (config.Architecture == ModelArchitecture.DeepSeek ? config.NumNextnPredictLayers : 0);
        for (int l = 0; l < layers; l++)
        {
            g.Norm(WeightNames.AttentionNorm(l), h);
            g.Norm(WeightNames.FfnNorm(l), h);
            if (config.Architecture == ModelArchitecture.DeepSeek) MlaAttention(g, config, l, options);
            else GroupedQueryAttention(g, config, l);

            if (config.IsMoeLayer(l)) Moe(g, config, l, options);
            else
            {
                g.Linear(WeightNames.DenseGate(l), config.IntermediateSize, h);
                g.Linear(WeightNames.DenseUp(l), config.IntermediateSize, h);
                g.Linear(WeightNames.DenseDown(l), h, config.IntermediateSize);
            }

            if (l >= config.NumHiddenLayers)
            {
                g.Norm(WeightNames.MtpEmbeddingNorm(l), h);
                g.Norm(WeightNames.MtpHiddenNorm(l), h);
                g.Linear(WeightNames.MtpProjection(l), h, 2 * h);
                g.Norm(WeightNames.MtpHeadNorm(l), h);
                if (options.MtpOwnEmbeddingAndHead)
                {
                    // The checkpoint repeats the shared tensors; draw them with the main tensors' seeds so they are equal.
                    g.Matrix(WeightNames.MtpEmbedding(l), v, h, 1f, seedName: WeightNames.Embedding);
                    g.Matrix(WeightNames.MtpHead(l), v, h, 1f / MathF.Sqrt(h), seedName: config.TieWordEmbeddings ? WeightNames.Embedding : WeightNames.OutputHead);
                }
            }
        }
        return w;
    }

    private static void MlaAttention(Generator g, ModelConfig c, int l, RandomWeightOptions o)
    {
        int h = c.HiddenSize, nh = c.NumAttentionHeads, r = c.KvLoraRank;
        if (c.QLoraRank is int qr)
        {
            g.Linear(WeightNames.QAProj(l), qr, h);
            g.Norm(WeightNames.QANorm(l), qr);
            g.Linear(WeightNames.QBProj(l), nh * c.QkHeadDim, qr);
        }
        else g.Linear(WeightNames.QProj(l), nh * c.QkHeadDim, h);
        g.Linear(WeightNames.KvAProj(l), r + c.QkRopeHeadDim, h);
        g.Norm(WeightNames.KvANorm(l), r);

        int dn = c.QkNopeHeadDim, dv = c.VHeadDim;
        float[] kvb = g.Values(WeightNames.KvBProj(l), nh * (dn + dv) * r, 1f / MathF.Sqrt(r));
        if (!o.SplitMlaUpProjection) g.Store(WeightNames.KvBProj(l), kvb, [nh * (dn + dv), r]);
        else
        {
            // Same numbers as kv_b_proj, rearranged: k_b[h] = W_kb[h]ᵀ ([r, dn]) and v_b[h] = W_vb[h] ([dv, r]).
            var kb = new float[nh * r * dn];
            var vb = new float[nh * dv * r];
            for (int head = 0; head < nh; head++)
            {
                int baseRow = head * (dn + dv);
                for (int i = 0; i < dn; i++)
                    for (int j = 0; j < r; j++)
                        kb[(head * r + j) * dn + i] = kvb[(baseRow + i) * r + j];
                Array.Copy(kvb, (baseRow + dn) * r, vb, head * dv * r, dv * r);
            }
            g.Store(WeightNames.KBProj(l), kb, [nh, r, dn]);
            g.Store(WeightNames.VBProj(l), vb, [nh, dv, r]);
        }
        g.Linear(WeightNames.OutputProjection(l), h, nh * dv);
    }

    private static void GroupedQueryAttention(Generator g, ModelConfig c, int l)
    {
        int h = c.HiddenSize, hd = c.AttentionHeadDim, nh = c.NumAttentionHeads, kv = c.NumKeyValueHeads;
        g.Linear(WeightNames.QProj(l), nh * hd, h);
        g.Linear(WeightNames.KProj(l), kv * hd, h);
        g.Linear(WeightNames.VProj(l), kv * hd, h);
        if (c.AttentionBias)
        {
            g.Vector(WeightNames.QBias(l), nh * hd, 0f, 0.2f);
            g.Vector(WeightNames.KBias(l), kv * hd, 0f, 0.2f);
            g.Vector(WeightNames.VBias(l), kv * hd, 0f, 0.2f);
        }
        g.Linear(WeightNames.OutputProjection(l), h, nh * hd);
    }

    private static void Moe(Generator g, ModelConfig c, int l, RandomWeightOptions o)
    {
        int h = c.HiddenSize, f = c.MoeIntermediateSize, e = c.NRoutedExperts;
        // A wider router spreads the scores so top-k picks are decided by clear margins.
        g.Matrix(WeightNames.Router(l), e, h, 3f / MathF.Sqrt(h));
        if (c.TopkMethod == ExpertSelection.NoAuxTopkCorrected) g.Vector(WeightNames.RouterBias(l), e, 0f, o.RouterBiasScale);
        if (o.StackedExperts)
        {
            g.StoreStacked(WeightNames.StackedExpertGate(l), Enumerable.Range(0, e).Select(x => WeightNames.ExpertGate(l, x)), f, h);
            g.StoreStacked(WeightNames.StackedExpertUp(l), Enumerable.Range(0, e).Select(x => WeightNames.ExpertUp(l, x)), f, h);
            g.StoreStacked(WeightNames.StackedExpertDown(l), Enumerable.Range(0, e).Select(x => WeightNames.ExpertDown(l, x)), h, f);
        }
        else
            for (int x = 0; x < e; x++)
            {
                g.Linear(WeightNames.ExpertGate(l, x), f, h);
                g.Linear(WeightNames.ExpertUp(l, x), f, h);
                g.Linear(WeightNames.ExpertDown(l, x), h, f);
            }
        if (c.NSharedExperts > 0)
        {
            int fs = c.NSharedExperts * f;
            g.Linear(WeightNames.SharedGate(l), fs, h);
            g.Linear(WeightNames.SharedUp(l), fs, h);
            g.Linear(WeightNames.SharedDown(l), h, fs);
        }
    }

    private sealed class Generator(ModelWeights weights, int seed, DType matrixType)
    {
        /// <summary>[out, in] weight, uniform with variance 1/in (so x·Wᵀ keeps unit scale).</summary>
        public void Linear(string name, int rows, int cols) => Matrix(name, rows, cols, MathF.Sqrt(3f / cols));

        public void Matrix(string name, int rows, int cols, float amplitude, string? seedName = null)
            => Store(name, Values(seedName ?? name, rows * cols, amplitude), [rows, cols]);

        /// <summary>RMSNorm weight near 1, varied so a mix-up of two norms shows.</summary>
        public void Norm(string name, int n) => Vector(name, n, 1f, 0.2f);

        public void Vector(string name, int n, float center, float amplitude)
        {
            var values = Values(name, n, amplitude);
            for (int i = 0; i < n; i++) values[i] += center;
            var t = Tensor.FromArray(values, n);
            weights.Add(name, t);
        }

        public void StoreStacked(string name, IEnumerable<string> expertNames, int rows, int cols)
        {
            var parts = expertNames.Select(n => Values(n, rows * cols, MathF.Sqrt(3f / cols))).ToArray();
            var all = new float[parts.Length * rows * cols];
            for (int e = 0; e < parts.Length; e++) parts[e].CopyTo(all, e * rows * cols);
            Store(name, all, [parts.Length, rows, cols]);
        }

        public float[] Values(string name, int count, float amplitude)
        {
            var rng = new Random(unchecked(seed * 1000003 ^ StableHash(name)));
            var v = new float[count];
            for (int i = 0; i < count; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * amplitude;
            return v;
        }

        public void Store(string name, float[] values, int[] shape)
        {
            if (matrixType == DType.F8E4M3)
            {
                // Scales tile the flattened [rows, cols] matrix, which for stacked experts is [E·out, in].
                int cols = shape[^1];
                var flat = Fp8BlockQuantizer.Quantize(values, values.Length / cols, cols);
                weights.KeepAlive(flat.BlockScales!);
                if (shape.Length == 2) weights.Add(name, flat);
                else
                {
                    weights.KeepAlive(flat);
                    weights.Add(name, flat.Reshape(shape), owned: false);
                }
                return;
            }
            var t = Tensor.Allocate(matrixType, shape);
            BlockQuantizer.Quantize(matrixType, values, t.AsSpan<byte>());
            weights.Add(name, t);
        }

        // FNV-1a: string.GetHashCode differs between processes, and seeds must not.
        private static int StableHash(string s)
        {
            uint hash = 2166136261;
            foreach (char ch in s) hash = (hash ^ ch) * 16777619;
            return (int)hash;
        }
    }
}
