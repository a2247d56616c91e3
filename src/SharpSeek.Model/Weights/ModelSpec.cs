namespace SharpSeek.Model;

/// <summary>
/// Every tensor of a config, by HF-style name (<see cref="WeightNames"/>), with its shape, role and initialisation: the
/// one list that loaders validate files against, writers and converters walk, the random generator fills and the
/// trainer allocates as parameters.
/// </summary>
/// <remarks>
/// <para>Order: embedding, final norm, head, then each layer (its two norms, attention, feed-forward, and for an MTP
/// layer its own norms and projection after the block). It is the order a training model's parameters are summed in
/// (gradient norm), so it stays fixed.</para>
/// <para>Training initialisation (<see cref="TensorSpec.Init"/>): norms 1, biases 0, embedding N(0, 1), every matrix
/// N(0, 1/fan_in) so each projection keeps unit scale, and the projections that write into the residual stream
/// (o_proj, down_proj) further scaled by 1/√(2·layers).</para>
/// <para>Test-model initialisation (<see cref="TensorSpec.TestInit"/>): uniform, bounded values that keep activations
/// O(1) at any depth and make logits informative: linear weights of standard deviation 1/√fan_in, the head the same
/// over the hidden size (logits of std ≈ 1 after the final norm: no ties), the embedding ±1, RMSNorm weights 1 ± 0.2
/// and biases ±0.2 (varied so a swapped norm or bias shows), the router twice as wide (logit std ≈ 2, so expert
/// choices are decided by clear margins rather than rounding) and the selection bias ±0.1.</para>
/// </remarks>
public static class ModelSpec
{
    /// <summary>The tensors of <paramref name="config"/> in <paramref name="layout"/>.</summary>
    public static IReadOnlyList<TensorSpec> For(ModelConfig config, CheckpointLayout layout)
    {
        config.Validate();
        return new Builder(config, layout).Build();
    }

    private sealed class Builder(ModelConfig c, CheckpointLayout layout)
    {
        private readonly List<TensorSpec> _list = [];
        private readonly int _h = c.HiddenSize;
        private readonly bool _deepSeek = c.Architecture == ModelArchitecture.DeepSeek;

        // Every block counts, MTP included, whether or not the layout stores the MTP layers.
        private double ResidualScale => 1.0 / Math.Sqrt(2.0 * (c.NumHiddenLayers + (_deepSeek ? c.NumNextnPredictLayers : 0)));

        public List<TensorSpec> Build()
        {
            int v = c.VocabSize;
            var embedding = Add(WeightNames.Embedding, [v, _h], TensorRole.Embedding, TensorInit.Gaussian(1), TensorInit.Uniform(0, 1));
            Norm(WeightNames.FinalNorm, _h);
            var head = c.TieWordEmbeddings ? embedding : Linear(WeightNames.OutputHead, [v, _h], TensorRole.OutputHead);
            int layers = c.NumHiddenLayers + (_deepSeek && layout.IncludeMtp ? c.NumNextnPredictLayers : 0);
            for (int l = 0; l < layers; l++)
            {
                Norm(WeightNames.AttentionNorm(l), _h);
                Norm(WeightNames.FfnNorm(l), _h);
                if (_deepSeek) Mla(l);
                else GroupedQueryAttention(l);
                if (c.IsMoeLayer(l)) Moe(l);
                else SwiGlu(WeightNames.DenseGate(l), WeightNames.DenseUp(l), WeightNames.DenseDown(l), c.IntermediateSize);
                if (l < c.NumHiddenLayers) continue;

                Norm(WeightNames.MtpEmbeddingNorm(l), _h);
                Norm(WeightNames.MtpHiddenNorm(l), _h);
                Linear(WeightNames.MtpProjection(l), [_h, 2 * _h]);
                Norm(WeightNames.MtpHeadNorm(l), _h);
                if (layout.MtpRepeatsEmbeddingAndHead)
                {
                    _list.Add(embedding with { Name = WeightNames.MtpEmbedding(l), Repeats = embedding.Name });
                    _list.Add(head with { Name = WeightNames.MtpHead(l), Role = TensorRole.OutputHead, Repeats = head.Name });
                }
            }
            return _list;
        }

        private void Mla(int l)
        {
            int nh = c.NumAttentionHeads, r = c.KvLoraRank, dn = c.QkNopeHeadDim, dv = c.VHeadDim;
            if (c.QLoraRank is int qr)
            {
                Linear(WeightNames.QAProj(l), [qr, _h]);
                Norm(WeightNames.QANorm(l), qr);
                Linear(WeightNames.QBProj(l), [nh * c.QkHeadDim, qr]);
            }
            else Linear(WeightNames.QProj(l), [nh * c.QkHeadDim, _h]);
            Linear(WeightNames.KvAProj(l), [r + c.QkRopeHeadDim, _h]);
            Norm(WeightNames.KvANorm(l), r);
            if (layout.SplitMlaUpProjection)
            {
                Linear(WeightNames.KBProj(l), [nh, r, dn]);
                Linear(WeightNames.VBProj(l), [nh, dv, r]);
            }
            else Linear(WeightNames.KvBProj(l), [nh * (dn + dv), r]);
            Linear(WeightNames.OutputProjection(l), [_h, nh * dv], residual: true);
        }

        private void GroupedQueryAttention(int l)
        {
            int hd = c.AttentionHeadDim, nh = c.NumAttentionHeads, kv = c.NumKeyValueHeads;
            bool bias = c.AttentionBias || c.Architecture == ModelArchitecture.Qwen2;
            Linear(WeightNames.QProj(l), [nh * hd, _h]);
            if (bias) Bias(WeightNames.QBias(l), nh * hd);
            Linear(WeightNames.KProj(l), [kv * hd, _h]);
            if (bias) Bias(WeightNames.KBias(l), kv * hd);
            Linear(WeightNames.VProj(l), [kv * hd, _h]);
            if (bias) Bias(WeightNames.VBias(l), kv * hd);
            Linear(WeightNames.OutputProjection(l), [_h, nh * hd], residual: true);
        }

        private void Moe(int l)
        {
            int f = c.MoeIntermediateSize, e = c.NRoutedExperts;
            double std = 1 / Math.Sqrt(_h);
            Add(WeightNames.Router(l), [e, _h], TensorRole.Router, TensorInit.Gaussian(std), TensorInit.Uniform(0, 2 * Math.Sqrt(3) * std));
            if (c.TopkMethod == ExpertSelection.NoAuxTopkCorrected)
                Add(WeightNames.RouterBias(l), [e], TensorRole.RouterBias, TensorInit.Constant(0), TensorInit.Uniform(0, 0.1));
            if (layout.StackedExperts)
            {
                Linear(WeightNames.StackedExpertGate(l), [e, f, _h]);
                Linear(WeightNames.StackedExpertUp(l), [e, f, _h]);
                Linear(WeightNames.StackedExpertDown(l), [e, _h, f], residual: true);
            }
            else
                for (int x = 0; x < e; x++) SwiGlu(WeightNames.ExpertGate(l, x), WeightNames.ExpertUp(l, x), WeightNames.ExpertDown(l, x), f);
            if (c.NSharedExperts > 0)
                SwiGlu(WeightNames.SharedGate(l), WeightNames.SharedUp(l), WeightNames.SharedDown(l), c.NSharedExperts * f);
        }

        private void SwiGlu(string gate, string up, string down, int width)
        {
            Linear(gate, [width, _h]);
            Linear(up, [width, _h]);
            Linear(down, [_h, width], residual: true);
        }

        private void Norm(string name, int n) => Add(name, [n], TensorRole.Norm, TensorInit.Constant(1), TensorInit.Uniform(1, 0.2));

        private void Bias(string name, int n) => Add(name, [n], TensorRole.Bias, TensorInit.Constant(0), TensorInit.Uniform(0, 0.2));

        private TensorSpec Linear(string name, int[] shape, TensorRole role = TensorRole.Linear, bool residual = false)
        {
            double std = 1 / Math.Sqrt(shape[^1]);
            return Add(name, shape, role, TensorInit.Gaussian(residual ? std * ResidualScale : std), TensorInit.Uniform(0, Math.Sqrt(3) * std));
        }

        private TensorSpec Add(string name, int[] shape, TensorRole role, TensorInit init, TensorInit testInit)
        {
            var t = new TensorSpec(name, shape, role) { Init = init, TestInit = testInit };
            _list.Add(t);
            return t;
        }
    }
}
