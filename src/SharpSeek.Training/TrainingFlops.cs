using SharpSeek.Model;

namespace SharpSeek.Training;

/// <summary>
/// Model FLOPs per trained token: 6 × the multiply-accumulates of the forward pass (2 FLOPs per MAC, and the
/// backward pass costs twice the forward), counting what the model must compute and nothing it recomputes: every
/// linear layer a token passes through (only its k routed experts, plus shared and router), the output head for the
/// main and each MTP depth, and the attention core over the causal context (on average (T+1)/2 keys per query).
/// </summary>
public static class TrainingFlops
{
    public static double PerToken(ModelConfig c, int sequenceLength)
    {
        double macs = 0;
        int layers = c.NumHiddenLayers + c.NumNextnPredictLayers;
        for (int l = 0; l < layers; l++)
        {
            macs += BlockMacs(c, l, sequenceLength);
            if (l >= c.NumHiddenLayers) macs += 2.0 * c.HiddenSize * c.HiddenSize; // eh_proj
        }
        macs += (1 + c.NumNextnPredictLayers) * (double)c.HiddenSize * c.VocabSize;
        return 6 * macs;
    }

    private static double BlockMacs(ModelConfig c, int l, int seq)
    {
        double h = c.HiddenSize, nh = c.NumAttentionHeads, qk = c.QkHeadDim, r = c.KvLoraRank;
        double macs = c.QLoraRank is int qr ? h * qr + qr * nh * qk : h * nh * qk;
        macs += h * (r + c.QkRopeHeadDim) + r * nh * (c.QkNopeHeadDim + c.VHeadDim) + nh * c.VHeadDim * h;
        macs += nh * (qk + c.VHeadDim) * (seq + 1) / 2.0;
        if (c.IsMoeLayer(l))
            macs += h * c.NRoutedExperts + (c.NumExpertsPerTok + c.NSharedExperts) * 3.0 * h * c.MoeIntermediateSize;
        else macs += 3.0 * h * c.IntermediateSize;
        return macs;
    }
}
