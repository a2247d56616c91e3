using SharpSeek.Model;

namespace SharpSeek.Checkpoints;

/// <summary>
/// Every tensor a checkpoint of a config must hold, by HF-style name (<see cref="WeightNames"/>), with shapes: the
/// contract that loaders validate files against, that the random generator fills and that converters walk.
/// </summary>
public static class ModelTensorPlan
{
    /// <summary>The tensors of <paramref name="config"/> in <paramref name="layout"/>, in a stable order (embedding, blocks, final norm, head).</summary>
    public static IReadOnlyList<PlannedTensor> For(ModelConfig config, CheckpointLayout layout)
    {
        config.Validate();
        var list = new List<PlannedTensor>();
        int h = config.HiddenSize, v = config.VocabSize;
        list.Add(new(WeightNames.Embedding, [v, h], TensorRole.Embedding));
        bool deepSeek = config.Architecture == ModelArchitecture.DeepSeek;
        int layers = config.NumHiddenLayers + (deepSeek && layout.IncludeMtp ? config.NumNextnPredictLayers : 0);
        for (int l = 0; l < layers; l++)
        {
            bool mtp = l >= config.NumHiddenLayers;
            if (mtp)
            {
                list.Add(new(WeightNames.MtpEmbeddingNorm(l), [h], TensorRole.Norm));
                list.Add(new(WeightNames.MtpHiddenNorm(l), [h], TensorRole.Norm));
                list.Add(new(WeightNames.MtpProjection(l), [h, 2 * h], TensorRole.Linear));
                if (layout.MtpRepeatsEmbeddingAndHead) list.Add(new(WeightNames.MtpEmbedding(l), [v, h], TensorRole.Embedding));
            }
            list.Add(new(WeightNames.AttentionNorm(l), [h], TensorRole.Norm));
            if (deepSeek) AddMla(list, config, layout, l);
            else AddGroupedQueryAttention(list, config, l);
            list.Add(new(WeightNames.FfnNorm(l), [h], TensorRole.Norm));
            if (config.IsMoeLayer(l)) AddMoe(list, config, layout, l);
            else
            {
                list.Add(new(WeightNames.DenseGate(l), [config.IntermediateSize, h], TensorRole.Linear));
                list.Add(new(WeightNames.DenseUp(l), [config.IntermediateSize, h], TensorRole.Linear));
                list.Add(new(WeightNames.DenseDown(l), [h, config.IntermediateSize], TensorRole.Linear));
            }
            if (mtp)
            {
                list.Add(new(WeightNames.MtpHeadNorm(l), [h], TensorRole.Norm));
                if (layout.MtpRepeatsEmbeddingAndHead) list.Add(new(WeightNames.MtpHead(l), [v, h], TensorRole.OutputHead));
            }
        }
        list.Add(new(WeightNames.FinalNorm, [h], TensorRole.Norm));
        if (!config.TieWordEmbeddings) list.Add(new(WeightNames.OutputHead, [v, h], TensorRole.OutputHead));
        return list;
    }

    private static void AddMla(List<PlannedTensor> list, ModelConfig c, CheckpointLayout layout, int l)
    {
        int h = c.HiddenSize, nh = c.NumAttentionHeads, r = c.KvLoraRank, dn = c.QkNopeHeadDim, dv = c.VHeadDim;
        if (c.QLoraRank is int qr)
        {
            list.Add(new(WeightNames.QAProj(l), [qr, h], TensorRole.Linear));
            list.Add(new(WeightNames.QANorm(l), [qr], TensorRole.Norm));
            list.Add(new(WeightNames.QBProj(l), [nh * c.QkHeadDim, qr], TensorRole.Linear));
        }
        else list.Add(new(WeightNames.QProj(l), [nh * c.QkHeadDim, h], TensorRole.Linear));
        list.Add(new(WeightNames.KvAProj(l), [r + c.QkRopeHeadDim, h], TensorRole.Linear));
        list.Add(new(WeightNames.KvANorm(l), [r], TensorRole.Norm));
        if (layout.SplitMlaUpProjection)
        {
            list.Add(new(WeightNames.KBProj(l), [nh, r, dn], TensorRole.Linear));
            list.Add(new(WeightNames.VBProj(l), [nh, dv, r], TensorRole.Linear));
        }
        else list.Add(new(WeightNames.KvBProj(l), [nh * (dn + dv), r], TensorRole.Linear));
        list.Add(new(WeightNames.OutputProjection(l), [h, nh * dv], TensorRole.Linear));
    }

    private static void AddGroupedQueryAttention(List<PlannedTensor> list, ModelConfig c, int l)
    {
        int h = c.HiddenSize, hd = c.AttentionHeadDim, nh = c.NumAttentionHeads, kv = c.NumKeyValueHeads;
        bool bias = c.AttentionBias || c.Architecture == ModelArchitecture.Qwen2;
        list.Add(new(WeightNames.QProj(l), [nh * hd, h], TensorRole.Linear));
        if (bias) list.Add(new(WeightNames.QBias(l), [nh * hd], TensorRole.Bias));
        list.Add(new(WeightNames.KProj(l), [kv * hd, h], TensorRole.Linear));
        if (bias) list.Add(new(WeightNames.KBias(l), [kv * hd], TensorRole.Bias));
        list.Add(new(WeightNames.VProj(l), [kv * hd, h], TensorRole.Linear));
        if (bias) list.Add(new(WeightNames.VBias(l), [kv * hd], TensorRole.Bias));
        list.Add(new(WeightNames.OutputProjection(l), [h, nh * hd], TensorRole.Linear));
    }

    private static void AddMoe(List<PlannedTensor> list, ModelConfig c, CheckpointLayout layout, int l)
    {
        int h = c.HiddenSize, f = c.MoeIntermediateSize, e = c.NRoutedExperts;
        list.Add(new(WeightNames.Router(l), [e, h], TensorRole.Router));
        if (c.TopkMethod == ExpertSelection.NoAuxTopkCorrected) list.Add(new(WeightNames.RouterBias(l), [e], TensorRole.RouterBias));
        if (layout.StackedExperts)
        {
            list.Add(new(WeightNames.StackedExpertGate(l), [e, f, h], TensorRole.Linear));
            list.Add(new(WeightNames.StackedExpertUp(l), [e, f, h], TensorRole.Linear));
            list.Add(new(WeightNames.StackedExpertDown(l), [e, h, f], TensorRole.Linear));
        }
        else
        {
            for (int x = 0; x < e; x++)
            {
                list.Add(new(WeightNames.ExpertGate(l, x), [f, h], TensorRole.Linear));
                list.Add(new(WeightNames.ExpertUp(l, x), [f, h], TensorRole.Linear));
                list.Add(new(WeightNames.ExpertDown(l, x), [h, f], TensorRole.Linear));
            }
        }
        if (c.NSharedExperts > 0)
        {
            int fs = c.NSharedExperts * f;
            list.Add(new(WeightNames.SharedGate(l), [fs, h], TensorRole.Linear));
            list.Add(new(WeightNames.SharedUp(l), [fs, h], TensorRole.Linear));
            list.Add(new(WeightNames.SharedDown(l), [h, fs], TensorRole.Linear));
        }
    }
}
