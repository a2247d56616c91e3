using SharpSeek.Model;

namespace SharpSeek.Training;

/// <summary>DeepSeek-V3-shaped configs sized for training on a CPU (every V3 feature on: MLA with query compression, MoE with a shared expert, sigmoid routing with the selection bias and group limit, MTP).</summary>
public static class TrainingPresets
{
    /// <summary>~0.3M parameters for byte-level text (vocabulary 257): trains in seconds; used by tests and demos.</summary>
    public static ModelConfig Tiny { get; } = new()
    {
        ModelType = "deepseek_v3",
        HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 4, VocabSize = 257,
        QLoraRank = 32, KvLoraRank = 32, QkNopeHeadDim = 16, QkRopeHeadDim = 8, VHeadDim = 16,
        FirstKDenseReplace = 1, IntermediateSize = 128,
        NRoutedExperts = 8, NSharedExperts = 1, NumExpertsPerTok = 2, MoeIntermediateSize = 32,
        ScoringFunc = ExpertScoring.Sigmoid, TopkMethod = ExpertSelection.NoAuxTopkCorrected, NormTopkProb = true,
        RoutedScalingFactor = 2.5, NGroup = 2, TopkGroup = 2,
        RopeTheta = 10000, MaxPositionEmbeddings = 4096, RopeScaling = null,
        NumNextnPredictLayers = 1, RmsNormEps = 1e-6,
    };

    /// <summary>~4M parameters for byte-level text: a model that learns the generated corpus well in minutes.</summary>
    public static ModelConfig Small { get; } = Tiny with
    {
        HiddenSize = 192, NumHiddenLayers = 4, NumAttentionHeads = 6, QLoraRank = 96, KvLoraRank = 64,
        QkNopeHeadDim = 32, QkRopeHeadDim = 16, VHeadDim = 32, IntermediateSize = 512, MoeIntermediateSize = 128,
    };

    /// <summary>
    /// ~20M parameters (the training benchmark's model): hidden 384, 4 blocks (1 dense, 3 MoE) + 1 MTP block,
    /// 8 routed experts (top-2, 2 groups) + 1 shared expert, vocabulary 8192.
    /// </summary>
    public static ModelConfig Bench20M { get; } = Tiny with
    {
        HiddenSize = 384, NumHiddenLayers = 4, NumAttentionHeads = 6, VocabSize = 8192,
        QLoraRank = 192, KvLoraRank = 128, QkNopeHeadDim = 32, QkRopeHeadDim = 16, VHeadDim = 32,
        IntermediateSize = 1024, MoeIntermediateSize = 256,
    };

    public static ModelConfig? ByName(string name) => name.ToLowerInvariant() switch
    {
        "tiny" => Tiny,
        "small" => Small,
        "bench20m" or "20m" => Bench20M,
        _ => null,
    };
}
