using SharpSeek.Model;

namespace SharpSeek.Checkpoints.Tests;

/// <summary>
/// Tiny configs that still exercise every path llama.cpp has for these architectures. Widths are multiples of 32 so
/// every matrix (k_b included: dn = 32) can be Q8_0; the vocabulary is 256 so llama.cpp's placeholder tokenizer is
/// byte-complete.
/// </summary>
internal static class TestModels
{
    /// <summary>V3-style: q-LoRA, sigmoid scoring with selection bias, 4 groups keeping 2, a shared expert, YaRN, one dense layer, an MTP layer.</summary>
    public static ModelConfig DeepSeekV3Style { get; } = new()
    {
        ModelType = "deepseek_v3",
        HiddenSize = 64, NumHiddenLayers = 3, NumAttentionHeads = 4, NumKeyValueHeads = 4, VocabSize = 256,
        QLoraRank = 32, KvLoraRank = 32, QkNopeHeadDim = 32, QkRopeHeadDim = 8, VHeadDim = 16,
        FirstKDenseReplace = 1, IntermediateSize = 96,
        NRoutedExperts = 16, NSharedExperts = 1, NumExpertsPerTok = 3, MoeIntermediateSize = 32,
        ScoringFunc = ExpertScoring.Sigmoid, TopkMethod = ExpertSelection.NoAuxTopkCorrected, NormTopkProb = true,
        RoutedScalingFactor = 2.5, NGroup = 4, TopkGroup = 2,
        RopeTheta = 10000, MaxPositionEmbeddings = 512,
        RopeScaling = new RopeScalingConfig { Type = "yarn", Factor = 8, OriginalMaxPositionEmbeddings = 64, BetaFast = 32, BetaSlow = 1, Mscale = 1, MscaleAllDim = 1 },
        NumNextnPredictLayers = 1, RmsNormEps = 1e-6,
    };

    /// <summary>
    /// V2-Lite-style: no q-LoRA, softmax scoring, plain top-k without normalisation, two shared experts, YaRN with
    /// mscale = mscale_all_dim = 0.707. 27 layers, because this llama.cpp reads a deepseek2 file without
    /// attention.q_lora_rank as the "lite" layout only at 26 or 27 layers.
    /// </summary>
    public static ModelConfig DeepSeekV2LiteStyle { get; } = new()
    {
        ModelType = "deepseek_v2",
        HiddenSize = 64, NumHiddenLayers = 27, NumAttentionHeads = 4, NumKeyValueHeads = 4, VocabSize = 256,
        QLoraRank = null, KvLoraRank = 32, QkNopeHeadDim = 32, QkRopeHeadDim = 8, VHeadDim = 16,
        FirstKDenseReplace = 1, IntermediateSize = 96,
        NRoutedExperts = 8, NSharedExperts = 2, NumExpertsPerTok = 2, MoeIntermediateSize = 32,
        ScoringFunc = ExpertScoring.Softmax, TopkMethod = ExpertSelection.Greedy, NormTopkProb = false,
        RoutedScalingFactor = 1.0, NGroup = 1, TopkGroup = 1,
        RopeTheta = 10000, MaxPositionEmbeddings = 512,
        RopeScaling = new RopeScalingConfig { Type = "yarn", Factor = 4, OriginalMaxPositionEmbeddings = 32, BetaFast = 32, BetaSlow = 1, Mscale = 0.707, MscaleAllDim = 0.707 },
        NumNextnPredictLayers = 0, RmsNormEps = 1e-6,
    };

    /// <summary>V2-style routing with q-LoRA: softmax scoring, plain top-k, normalised weights, two shared experts, no YaRN (3 layers, so Q8_0 runs stay short).</summary>
    public static ModelConfig DeepSeekV2Style { get; } = DeepSeekV3Style with
    {
        ModelType = "deepseek_v2",
        NRoutedExperts = 8, NSharedExperts = 2, NumExpertsPerTok = 2,
        ScoringFunc = ExpertScoring.Softmax, TopkMethod = ExpertSelection.Greedy, NormTopkProb = true,
        RoutedScalingFactor = 1.0, NGroup = 1, TopkGroup = 1, RopeScaling = null, NumNextnPredictLayers = 0,
    };

    /// <summary>Qwen2 (R1-Distill-Qwen): grouped-query attention with q/k/v biases, tied embeddings.</summary>
    public static ModelConfig Qwen2 { get; } = ModelConfigJson.DefaultsFor("qwen2") with
    {
        HiddenSize = 64, NumHiddenLayers = 3, NumAttentionHeads = 4, NumKeyValueHeads = 2, VocabSize = 256,
        IntermediateSize = 96, RopeTheta = 10000, MaxPositionEmbeddings = 512, RmsNormEps = 1e-6, TieWordEmbeddings = true,
    };

    /// <summary>Llama (R1-Distill-Llama): grouped-query attention, no biases, separate head; llama.cpp reorders its q/k rows.</summary>
    public static ModelConfig Llama { get; } = ModelConfigJson.DefaultsFor("llama") with
    {
        HiddenSize = 64, NumHiddenLayers = 3, NumAttentionHeads = 4, NumKeyValueHeads = 2, VocabSize = 256,
        IntermediateSize = 96, RopeTheta = 500000, MaxPositionEmbeddings = 512, RmsNormEps = 1e-5,
    };

    /// <summary>
    /// Llama with Llama 3.1's llama3 RoPE scaling (R1-Distill-Llama-8B's factor 8, low 1, high 4) over an original
    /// context of 64 rather than 8192, so that within 64 positions it matters: of the 8 rotary pairs (head 16,
    /// θ = 500000) pair 0 is kept, pair 1 is on the blend ramp (divisor 2.44), pairs 2–7 are slowed by 8.
    /// </summary>
    public static ModelConfig LlamaLlama3Rope { get; } = Llama with
    {
        RopeScaling = new RopeScalingConfig { Type = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 64 },
    };

    public static ModelConfig Get(string name) => name switch
    {
        "llama-llama3-rope" => LlamaLlama3Rope,
        "deepseek-v3-style" => DeepSeekV3Style,
        "deepseek-v2-lite-style" => DeepSeekV2LiteStyle,
        "deepseek-v2-style" => DeepSeekV2Style,
        "qwen2" => Qwen2,
        "llama" => Llama,
        _ => throw new ArgumentException($"no test model '{name}'"),
    };

    /// <summary>A seeded token sequence over the whole vocabulary.</summary>
    public static int[] Tokens(int count, int vocab, int seed = 7)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }

    /// <summary>
    /// Logits of every position [T·vocab] from a fresh session with an exact (F32) cache, as the llama.cpp oracle keeps
    /// its cache: comparisons then measure the weights and the arithmetic, not F16 rounding of cached rows.
    /// </summary>
    public static float[] RunAllPositions(LanguageModel model, int[] tokens)
    {
        using var session = model.CreateSession(tokens.Length, maxBatch: 32, kvCacheType: SharpSeek.Tensors.DType.F32);
        var logits = new float[tokens.Length * model.Config.VocabSize];
        session.Forward(tokens, logits, LogitsFor.AllPositions);
        return logits;
    }
}
