namespace SharpSeek.Model;

/// <summary>
/// Shapes of real checkpoints (the values of their released config.json) and tiny shapes for tests.
/// Cut a real shape down with <see cref="ModelConfig.WithDepth"/> or a <c>with</c> expression.
/// </summary>
public static class ModelPresets
{
    /// <summary>DeepSeek-V3 / R1: 671B parameters (37B active) + a 14B MTP module.</summary>
    public static ModelConfig DeepSeekV3 { get; } = new()
    {
        ModelType = "deepseek_v3",
        HiddenSize = 7168, NumHiddenLayers = 61, NumAttentionHeads = 128, NumKeyValueHeads = 128, VocabSize = 129280,
        QLoraRank = 1536, KvLoraRank = 512, QkNopeHeadDim = 128, QkRopeHeadDim = 64, VHeadDim = 128,
        FirstKDenseReplace = 3, IntermediateSize = 18432,
        NRoutedExperts = 256, NSharedExperts = 1, NumExpertsPerTok = 8, MoeIntermediateSize = 2048,
        ScoringFunc = ExpertScoring.Sigmoid, TopkMethod = ExpertSelection.NoAuxTopkCorrected, NormTopkProb = true,
        RoutedScalingFactor = 2.5, NGroup = 8, TopkGroup = 4,
        RopeTheta = 10000, MaxPositionEmbeddings = 163840,
        RopeScaling = new RopeScalingConfig
        {
            Type = "yarn", Factor = 40, OriginalMaxPositionEmbeddings = 4096, BetaFast = 32, BetaSlow = 1, Mscale = 1, MscaleAllDim = 1,
        },
        NumNextnPredictLayers = 1, RmsNormEps = 1e-6, TieWordEmbeddings = false,
    };

    /// <summary>DeepSeek-V2-Lite: 15.7B parameters (2.4B active), no query compression, softmax routing.</summary>
    public static ModelConfig DeepSeekV2Lite { get; } = new()
    {
        ModelType = "deepseek_v2",
        HiddenSize = 2048, NumHiddenLayers = 27, NumAttentionHeads = 16, NumKeyValueHeads = 16, VocabSize = 102400,
        QLoraRank = null, KvLoraRank = 512, QkNopeHeadDim = 128, QkRopeHeadDim = 64, VHeadDim = 128,
        FirstKDenseReplace = 1, IntermediateSize = 10944,
        NRoutedExperts = 64, NSharedExperts = 2, NumExpertsPerTok = 6, MoeIntermediateSize = 1408,
        ScoringFunc = ExpertScoring.Softmax, TopkMethod = ExpertSelection.Greedy, NormTopkProb = false,
        RoutedScalingFactor = 1.0, NGroup = 1, TopkGroup = 1,
        RopeTheta = 10000, MaxPositionEmbeddings = 163840,
        RopeScaling = new RopeScalingConfig
        {
            Type = "yarn", Factor = 40, OriginalMaxPositionEmbeddings = 4096, BetaFast = 32, BetaSlow = 1, Mscale = 0.707, MscaleAllDim = 0.707,
        },
        NumNextnPredictLayers = 0, RmsNormEps = 1e-6, TieWordEmbeddings = false,
    };

    /// <summary>DeepSeek-R1-Distill-Qwen-1.5B (Qwen2 architecture).</summary>
    public static ModelConfig DeepSeekR1DistillQwen1_5B { get; } = ModelConfigJson.DefaultsFor("qwen2") with
    {
        HiddenSize = 1536, NumHiddenLayers = 28, NumAttentionHeads = 12, NumKeyValueHeads = 2, VocabSize = 151936,
        IntermediateSize = 8960, RopeTheta = 10000, MaxPositionEmbeddings = 131072, RmsNormEps = 1e-6, TieWordEmbeddings = false,
    };

    /// <summary>DeepSeek-R1-Distill-Llama-8B (Llama 3.1 architecture with llama3 RoPE scaling).</summary>
    public static ModelConfig DeepSeekR1DistillLlama8B { get; } = ModelConfigJson.DefaultsFor("llama") with
    {
        HiddenSize = 4096, NumHiddenLayers = 32, NumAttentionHeads = 32, NumKeyValueHeads = 8, VocabSize = 128256,
        IntermediateSize = 14336, RopeTheta = 500000, MaxPositionEmbeddings = 131072, RmsNormEps = 1e-5, TieWordEmbeddings = false,
        RopeScaling = new RopeScalingConfig { Type = "llama3", Factor = 8, OriginalMaxPositionEmbeddings = 8192, LowFreqFactor = 1, HighFreqFactor = 4 },
    };

    /// <summary>
    /// A V3-shaped model small enough for float64 reference tests: query compression, sigmoid scoring with the
    /// selection bias, 4 groups of 4 experts keeping 2 groups, a shared expert, YaRN, one dense layer, one MTP layer.
    /// </summary>
    public static ModelConfig TinyDeepSeekV3 { get; } = new()
    {
        ModelType = "deepseek_v3",
        HiddenSize = 32, NumHiddenLayers = 3, NumAttentionHeads = 4, NumKeyValueHeads = 4, VocabSize = 96,
        QLoraRank = 24, KvLoraRank = 16, QkNopeHeadDim = 8, QkRopeHeadDim = 4, VHeadDim = 12,
        FirstKDenseReplace = 1, IntermediateSize = 48,
        NRoutedExperts = 16, NSharedExperts = 1, NumExpertsPerTok = 3, MoeIntermediateSize = 16,
        ScoringFunc = ExpertScoring.Sigmoid, TopkMethod = ExpertSelection.NoAuxTopkCorrected, NormTopkProb = true,
        RoutedScalingFactor = 2.5, NGroup = 4, TopkGroup = 2,
        RopeTheta = 10000, MaxPositionEmbeddings = 512,
        RopeScaling = new RopeScalingConfig
        {
            Type = "yarn", Factor = 8, OriginalMaxPositionEmbeddings = 64, BetaFast = 32, BetaSlow = 1, Mscale = 1, MscaleAllDim = 1,
        },
        NumNextnPredictLayers = 1, RmsNormEps = 1e-6,
    };

    /// <summary>A V2-Lite-shaped tiny model: no query compression, softmax greedy routing, two shared experts, no MTP.</summary>
    public static ModelConfig TinyDeepSeekV2Lite { get; } = new()
    {
        ModelType = "deepseek_v2",
        HiddenSize = 32, NumHiddenLayers = 3, NumAttentionHeads = 4, NumKeyValueHeads = 4, VocabSize = 96,
        QLoraRank = null, KvLoraRank = 16, QkNopeHeadDim = 8, QkRopeHeadDim = 4, VHeadDim = 8,
        FirstKDenseReplace = 1, IntermediateSize = 40,
        NRoutedExperts = 8, NSharedExperts = 2, NumExpertsPerTok = 2, MoeIntermediateSize = 12,
        ScoringFunc = ExpertScoring.Softmax, TopkMethod = ExpertSelection.Greedy, NormTopkProb = false,
        RoutedScalingFactor = 1.0, NGroup = 1, TopkGroup = 1,
        RopeTheta = 10000, MaxPositionEmbeddings = 512, RopeScaling = null,
        NumNextnPredictLayers = 0, RmsNormEps = 1e-6,
    };

    /// <summary>A tiny Qwen2: 4 query heads sharing 2 key/value heads, q/k/v biases.</summary>
    public static ModelConfig TinyQwen2 { get; } = ModelConfigJson.DefaultsFor("qwen2") with
    {
        HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, VocabSize = 96,
        IntermediateSize = 48, RopeTheta = 10000, MaxPositionEmbeddings = 512, RmsNormEps = 1e-6, TieWordEmbeddings = true,
    };

    /// <summary>A tiny Llama: 4 query heads sharing 1 key/value head, no biases.</summary>
    public static ModelConfig TinyLlama { get; } = ModelConfigJson.DefaultsFor("llama") with
    {
        HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 1, VocabSize = 96,
        IntermediateSize = 48, RopeTheta = 10000, MaxPositionEmbeddings = 512, RmsNormEps = 1e-5,
    };
}
