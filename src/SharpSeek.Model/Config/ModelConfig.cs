using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Model;

/// <summary>Which forward pass a config describes.</summary>
public enum ModelArchitecture
{
    /// <summary>DeepSeek V2/V3/R1: MLA attention, dense SwiGLU in the first layers, DeepSeekMoE after, optional MTP.</summary>
    DeepSeek,
    /// <summary>Qwen2 (R1-Distill-Qwen): grouped-query attention with q/k/v biases, dense SwiGLU.</summary>
    Qwen2,
    /// <summary>Llama (R1-Distill-Llama): grouped-query attention without biases, dense SwiGLU.</summary>
    Llama,
}

/// <summary>How the router turns logits into expert scores (HF <c>scoring_func</c>).</summary>
public enum ExpertScoring
{
    /// <summary>Softmax over all routed experts (DeepSeek-V2).</summary>
    Softmax,
    /// <summary>Independent sigmoid per expert (DeepSeek-V3).</summary>
    Sigmoid,
}

/// <summary>How experts are picked from the scores (HF <c>topk_method</c>).</summary>
public enum ExpertSelection
{
    /// <summary><c>greedy</c>: plain top-k over all experts (V2-Lite).</summary>
    Greedy,
    /// <summary><c>group_limited_greedy</c>: a group scores its best expert; keep topk_group groups, then top-k (V2).</summary>
    GroupLimitedGreedy,
    /// <summary><c>noaux_tc</c>: select on score + e_score_correction_bias; a group scores the sum of its top-2 biased scores (V3).</summary>
    NoAuxTopkCorrected,
}

/// <summary>How MLA attention is computed and cached.</summary>
public enum AttentionMode
{
    /// <summary>Cache only the normalised latent c and the rotated k_pe; fold W_kb into the query and W_vb after the sum.</summary>
    Absorbed,
    /// <summary>Expand per-head keys and values from the latent with W_kvb and cache them (plain multi-head attention).</summary>
    Naive,
}

/// <summary>Context-extension parameters from HF <c>rope_scaling</c>.</summary>
public sealed record RopeScalingConfig
{
    /// <summary><c>yarn</c> (DeepSeek) or <c>llama3</c> (R1-Distill-Llama). HF writes it as <c>type</c> or <c>rope_type</c>.</summary>
    public string Type { get; init; } = "yarn";
    public double Factor { get; init; } = 1.0;
    public int OriginalMaxPositionEmbeddings { get; init; } = 4096;
    public double BetaFast { get; init; } = 32;
    public double BetaSlow { get; init; } = 1;
    public double Mscale { get; init; } = 1;
    /// <summary>0 when absent: then YaRN changes neither the RoPE magnitude nor the softmax scale (HF's reading).</summary>
    public double MscaleAllDim { get; init; }
    /// <summary>llama3 only.</summary>
    public double LowFreqFactor { get; init; } = 1;
    /// <summary>llama3 only.</summary>
    public double HighFreqFactor { get; init; } = 4;
    /// <summary>
    /// llama3 only: per-pair divisors of the base frequency as a GGUF file stores them (<c>rope_freqs.weight</c>), used
    /// instead of the factors <see cref="RopeFrequencyFactors.Llama3"/> derives from the fields above. Null when the
    /// config came from config.json.
    /// </summary>
    public IReadOnlyList<float>? FrequencyFactors { get; init; }

    public bool IsYarn => Type == "yarn";
    public bool IsLlama3 => Type == "llama3";

    /// <summary>
    /// The YaRN parameters the RoPE kernel takes, or null for any other scaling (llama3 reaches the table as per-pair
    /// frequency factors instead). The one mapping inference and training both use.
    /// </summary>
    public RopeScaling? ToYarn() =>
        IsYarn ? new RopeScaling((float)Factor, OriginalMaxPositionEmbeddings, (float)BetaFast, (float)BetaSlow, (float)Mscale, (float)MscaleAllDim) : null;

    // Compares the factors by value: a record would compare the list by reference.
    public bool Equals(RopeScalingConfig? other) =>
        other is not null && Type == other.Type && Factor.Equals(other.Factor) && OriginalMaxPositionEmbeddings == other.OriginalMaxPositionEmbeddings
        && BetaFast.Equals(other.BetaFast) && BetaSlow.Equals(other.BetaSlow) && Mscale.Equals(other.Mscale) && MscaleAllDim.Equals(other.MscaleAllDim)
        && LowFreqFactor.Equals(other.LowFreqFactor) && HighFreqFactor.Equals(other.HighFreqFactor)
        && (FrequencyFactors is null ? other.FrequencyFactors is null : other.FrequencyFactors is not null && FrequencyFactors.SequenceEqual(other.FrequencyFactors));

    public override int GetHashCode() => HashCode.Combine(Type, Factor, OriginalMaxPositionEmbeddings, LowFreqFactor, HighFreqFactor, FrequencyFactors?.Count);
}

/// <summary>
/// One model's shape and hyper-parameters, named after the fields of HF <c>config.json</c>
/// (see <see cref="ModelConfigJson"/> for reading and writing it, <see cref="ModelPresets"/> for real and test shapes).
/// The same type describes DeepSeek V2/V3 (MLA + MoE) and the dense Qwen2/Llama models DeepSeek distilled R1 into;
/// fields that an architecture does not use keep their defaults and are ignored.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>HF <c>model_type</c>: deepseek_v3, deepseek_v2, qwen2 or llama.</summary>
    public string ModelType { get; init; } = "deepseek_v3";

    public ModelArchitecture Architecture => ModelType switch
    {
        "deepseek_v3" or "deepseek_v2" => ModelArchitecture.DeepSeek,
        "qwen2" => ModelArchitecture.Qwen2,
        "llama" => ModelArchitecture.Llama,
        _ => throw new InvalidOperationException($"unknown model_type '{ModelType}' (expected deepseek_v3, deepseek_v2, qwen2 or llama)"),
    };

    // ---- shared by every architecture ----
    public int HiddenSize { get; init; } = 7168;
    public int NumHiddenLayers { get; init; } = 61;
    public int NumAttentionHeads { get; init; } = 128;
    public int VocabSize { get; init; } = 129280;
    /// <summary>Width of the dense SwiGLU (all layers of Qwen2/Llama, the first <see cref="FirstKDenseReplace"/> of DeepSeek).</summary>
    public int IntermediateSize { get; init; } = 18432;
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000;
    public RopeScalingConfig? RopeScaling { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 4096;
    public bool TieWordEmbeddings { get; init; }

    // ---- grouped-query attention (Qwen2, Llama) ----
    /// <summary>Key/value heads of GQA models (DeepSeek's MLA ignores it).</summary>
    public int NumKeyValueHeads { get; init; } = 128;
    /// <summary>Per-head width of GQA models; null means hidden_size / num_attention_heads.</summary>
    public int? HeadDim { get; init; }
    /// <summary>Biases on q/k/v projections (always on for Qwen2; Llama's <c>attention_bias</c>).</summary>
    public bool AttentionBias { get; init; }

    // ---- MLA (DeepSeek) ----
    /// <summary>Rank of the query compression; null means a plain <c>q_proj</c> (V2-Lite).</summary>
    public int? QLoraRank { get; init; } = 1536;
    public int KvLoraRank { get; init; } = 512;
    public int QkNopeHeadDim { get; init; } = 128;
    public int QkRopeHeadDim { get; init; } = 64;
    public int VHeadDim { get; init; } = 128;

    // ---- DeepSeekMoE ----
    public int FirstKDenseReplace { get; init; } = 3;
    /// <summary>Every moe_layer_freq-th layer after the dense ones is MoE (1 in every released model).</summary>
    public int MoeLayerFreq { get; init; } = 1;
    /// <summary>Routed experts per MoE layer; 0 means the model has no MoE layers.</summary>
    public int NRoutedExperts { get; init; } = 256;
    public int NSharedExperts { get; init; } = 1;
    public int NumExpertsPerTok { get; init; } = 8;
    public int MoeIntermediateSize { get; init; } = 2048;
    public ExpertScoring ScoringFunc { get; init; } = ExpertScoring.Sigmoid;
    public ExpertSelection TopkMethod { get; init; } = ExpertSelection.NoAuxTopkCorrected;
    public bool NormTopkProb { get; init; } = true;
    public double RoutedScalingFactor { get; init; } = 2.5;
    public int NGroup { get; init; } = 8;
    public int TopkGroup { get; init; } = 4;

    // ---- Multi-token prediction ----
    public int NumNextnPredictLayers { get; init; } = 1;

    // ================= derived values =================

    /// <summary>Query/key width per head in MLA: dn + dr.</summary>
    public int QkHeadDim => QkNopeHeadDim + QkRopeHeadDim;

    /// <summary>GQA head width.</summary>
    public int AttentionHeadDim => HeadDim ?? (NumAttentionHeads > 0 ? HiddenSize / NumAttentionHeads : 0);

    /// <summary>Rotary dimensions per head: dr for MLA, the whole head for GQA.</summary>
    public int RopeDims => Architecture == ModelArchitecture.DeepSeek ? QkRopeHeadDim : AttentionHeadDim;

    /// <summary>Does layer <paramref name="layer"/> (MTP layers included) use DeepSeekMoE rather than a dense SwiGLU?</summary>
    public bool IsMoeLayer(int layer) =>
        Architecture == ModelArchitecture.DeepSeek && NRoutedExperts > 0
        && layer >= FirstKDenseReplace && layer % MoeLayerFreq == 0;

    /// <summary>YaRN's magnitude correction 0.1·m·ln(s) + 1 (1 without context extension).</summary>
    public static double YarnMscale(double factor, double m) => factor <= 1 ? 1 : 0.1 * m * Math.Log(factor) + 1;

    /// <summary>
    /// The attention logit scale. MLA: (dn + dr)^-0.5, times mscale(factor, mscale_all_dim)² under YaRN (the softmax
    /// sharpening that YaRN prescribes, applied here rather than through the RoPE magnitude). GQA: head_dim^-0.5.
    /// </summary>
    public double SoftmaxScale
    {
        get
        {
            if (Architecture != ModelArchitecture.DeepSeek) return 1.0 / Math.Sqrt(AttentionHeadDim);
            double scale = 1.0 / Math.Sqrt(QkHeadDim);
            if (RopeScaling is { IsYarn: true } y && y.MscaleAllDim != 0)
            {
                double m = YarnMscale(y.Factor, y.MscaleAllDim);
                scale *= m * m;
            }
            return scale;
        }
    }

    /// <summary>
    /// Numbers cached per token per layer. Absorbed MLA: kv_lora_rank + dr (576 for V3). Naive MLA: the expanded
    /// keys nh·(dn + dr) plus values nh·dv (40960 for V3). GQA: 2·n_kv_heads·head_dim.
    /// </summary>
    public long KvCacheElementsPerTokenPerLayer(AttentionMode mode) => Architecture switch
    {
        ModelArchitecture.DeepSeek => mode == AttentionMode.Absorbed
            ? KvLoraRank + QkRopeHeadDim
            : (long)NumAttentionHeads * (QkHeadDim + VHeadDim),
        _ => 2L * NumKeyValueHeads * AttentionHeadDim,
    };

    /// <summary>KV-cache bytes per token over every main layer (MTP layers excluded), at <paramref name="bytesPerElement"/> (4 = F32, 2 = F16/BF16; the engine stores F16 by default, see ModelOptions.KvCacheType).</summary>
    public long KvCacheBytesPerToken(AttentionMode mode, int bytesPerElement = sizeof(float))
        => KvCacheElementsPerTokenPerLayer(mode) * NumHiddenLayers * bytesPerElement;

    /// <summary>The same model cut to its first <paramref name="layers"/> blocks (dense layers kept first; MTP kept). For tests and benchmarks.</summary>
    public ModelConfig WithDepth(int layers)
    {
        if (layers < 1) throw new ArgumentOutOfRangeException(nameof(layers), layers, "a model needs at least one layer");
        return this with { NumHiddenLayers = layers, FirstKDenseReplace = Math.Min(FirstKDenseReplace, layers) };
    }

    /// <summary>Parameters in the weights this config implies (main model + MTP layers; tied heads counted once).</summary>
    public long ParameterCount(bool includeMtp = true)
    {
        long h = HiddenSize;
        long total = (long)VocabSize * h * (TieWordEmbeddings ? 1 : 2) + h; // embedding, head, final norm
        for (int l = 0; l < NumHiddenLayers; l++) total += BlockParameters(l);
        if (includeMtp && Architecture == ModelArchitecture.DeepSeek)
            for (int k = 0; k < NumNextnPredictLayers; k++)
                // enorm, hnorm, eh_proj, shared_head.norm (+ the block); embedding and head are shared with the main model.
                total += BlockParameters(NumHiddenLayers + k) + 3 * h + 2 * h * h;
        return total;
    }

    private long BlockParameters(int layer)
    {
        long h = HiddenSize, nh = NumAttentionHeads;
        long p = 2 * h; // two RMSNorms
        if (Architecture == ModelArchitecture.DeepSeek)
        {
            p += QLoraRank is int qr ? h * qr + qr + qr * nh * QkHeadDim : h * nh * QkHeadDim;
            p += h * (KvLoraRank + QkRopeHeadDim) + KvLoraRank + (long)KvLoraRank * nh * (QkNopeHeadDim + VHeadDim);
            p += nh * VHeadDim * h;
        }
        else
        {
            long hd = AttentionHeadDim, kv = NumKeyValueHeads;
            p += h * nh * hd + 2 * h * kv * hd + nh * hd * h;
            if (AttentionBias || Architecture == ModelArchitecture.Qwen2) p += nh * hd + 2 * kv * hd;
        }
        if (IsMoeLayer(layer))
        {
            long f = MoeIntermediateSize;
            p += (long)NRoutedExperts * 3 * h * f + (long)NSharedExperts * 3 * h * f + NRoutedExperts * h;
            if (TopkMethod == ExpertSelection.NoAuxTopkCorrected) p += NRoutedExperts;
        }
        else p += 3 * h * IntermediateSize;
        return p;
    }

    /// <summary>Throws <see cref="ModelConfigException"/> naming the first field that cannot describe a runnable model.</summary>
    public void Validate()
    {
        _ = Architecture; // unknown model_type
        Positive(HiddenSize, "hidden_size");
        Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads");
        Positive(VocabSize, "vocab_size");
        Positive(IntermediateSize, "intermediate_size");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (!(RmsNormEps > 0) || double.IsInfinity(RmsNormEps)) Fail("rms_norm_eps", $"must be a positive number, got {RmsNormEps}");
        if (!(RopeTheta > 1) || double.IsInfinity(RopeTheta)) Fail("rope_theta", $"must be greater than 1, got {RopeTheta}");
        if (RopeScaling is { } rs)
        {
            if (!rs.IsYarn && !rs.IsLlama3) Fail("rope_scaling.type", $"'{rs.Type}' is not supported (yarn or llama3)");
            if (!(rs.Factor >= 1) || double.IsInfinity(rs.Factor)) Fail("rope_scaling.factor", $"must be at least 1, got {rs.Factor}");
            Positive(rs.OriginalMaxPositionEmbeddings, "rope_scaling.original_max_position_embeddings");
            if (rs.IsYarn && !(rs.BetaFast > rs.BetaSlow && rs.BetaSlow > 0))
                Fail("rope_scaling.beta_fast", $"YaRN needs beta_fast > beta_slow > 0, got {rs.BetaFast} and {rs.BetaSlow}");
            if (rs.IsLlama3 && !(rs.HighFreqFactor > rs.LowFreqFactor && rs.LowFreqFactor > 0))
                Fail("rope_scaling.high_freq_factor", $"llama3 scaling needs high_freq_factor > low_freq_factor > 0, got {rs.HighFreqFactor} and {rs.LowFreqFactor}");
            if (rs.FrequencyFactors is { } factors)
            {
                if (!rs.IsLlama3) Fail("rope_scaling.frequency_factors", $"explicit frequency factors go with llama3 scaling, not '{rs.Type}'");
                if (factors.Count != RopeDims / 2)
                    Fail("rope_scaling.frequency_factors", $"has {factors.Count} factors, expected one per rotary pair ({RopeDims / 2})");
                if (factors.Any(f => !(f > 0) || !float.IsFinite(f)))
                    Fail("rope_scaling.frequency_factors", "must be positive finite numbers");
            }
        }

        if (Architecture == ModelArchitecture.DeepSeek)
        {
            if (QLoraRank is int qr) Positive(qr, "q_lora_rank");
            Positive(KvLoraRank, "kv_lora_rank");
            Positive(QkNopeHeadDim, "qk_nope_head_dim");
            Positive(QkRopeHeadDim, "qk_rope_head_dim");
            if (QkRopeHeadDim % 2 != 0) Fail("qk_rope_head_dim", $"RoPE rotates pairs, so it must be even, got {QkRopeHeadDim}");
            Positive(VHeadDim, "v_head_dim");
            NonNegative(FirstKDenseReplace, "first_k_dense_replace");
            Positive(MoeLayerFreq, "moe_layer_freq");
            NonNegative(NumNextnPredictLayers, "num_nextn_predict_layers");
            NonNegative(NRoutedExperts, "n_routed_experts");
            if (NRoutedExperts > 0)
            {
                Positive(MoeIntermediateSize, "moe_intermediate_size");
                NonNegative(NSharedExperts, "n_shared_experts");
                Positive(NumExpertsPerTok, "num_experts_per_tok");
                if (NumExpertsPerTok > NRoutedExperts)
                    Fail("num_experts_per_tok", $"{NumExpertsPerTok} exceeds n_routed_experts {NRoutedExperts}");
                if (!(RoutedScalingFactor > 0) || double.IsInfinity(RoutedScalingFactor))
                    Fail("routed_scaling_factor", $"must be a positive number, got {RoutedScalingFactor}");
                Positive(NGroup, "n_group");
                if (NRoutedExperts % NGroup != 0) Fail("n_group", $"{NRoutedExperts} experts do not split into {NGroup} equal groups");
                if (TopkGroup < 1 || TopkGroup > NGroup) Fail("topk_group", $"must be between 1 and n_group ({NGroup}), got {TopkGroup}");
                if (TopkMethod != ExpertSelection.Greedy && NumExpertsPerTok > TopkGroup * (NRoutedExperts / NGroup))
                    Fail("num_experts_per_tok", $"{NumExpertsPerTok} experts cannot be picked from {TopkGroup} groups of {NRoutedExperts / NGroup}");
                if (TopkMethod == ExpertSelection.NoAuxTopkCorrected && NGroup > 1 && NRoutedExperts / NGroup < 2)
                    Fail("n_group", "noaux_tc scores a group by its top-2 experts, so groups need at least 2 experts");
            }
        }
        else
        {
            Positive(NumKeyValueHeads, "num_key_value_heads");
            if (NumAttentionHeads % NumKeyValueHeads != 0)
                Fail("num_key_value_heads", $"{NumAttentionHeads} query heads do not share {NumKeyValueHeads} key/value heads evenly");
            if (HeadDim is int hd) Positive(hd, "head_dim");
            else if (HiddenSize % NumAttentionHeads != 0)
                Fail("num_attention_heads", $"hidden_size {HiddenSize} is not a multiple of {NumAttentionHeads} heads and head_dim is not given");
            if (AttentionHeadDim % 2 != 0) Fail("head_dim", $"RoPE rotates pairs, so the head width must be even, got {AttentionHeadDim}");
        }

        static void Positive(long v, string field)
        {
            if (v <= 0) Fail(field, $"must be a positive integer, got {v}");
        }
        static void NonNegative(long v, string field)
        {
            if (v < 0) Fail(field, $"must not be negative, got {v}");
        }
    }

    internal static void Fail(string field, string message) => throw new ModelConfigException(field, message);
}

/// <summary>A config field that is missing, malformed or describes an impossible model.</summary>
public sealed class ModelConfigException(string field, string message) : Exception($"config field '{field}': {message}")
{
    /// <summary>The HF config.json name of the offending field.</summary>
    public string Field { get; } = field;
}
