using System.Globalization;
using SharpSeek.Formats;
using SharpSeek.Formats.Gguf;
using SharpSeek.Model;
using SharpSeek.Tensors;

namespace SharpSeek.Checkpoints.Gguf;

/// <summary>
/// The model hyper-parameters in a GGUF file's metadata (<c>deepseek2.*</c>, <c>qwen2.*</c>, <c>llama.*</c> keys, as
/// llama.cpp's converter writes and its loader reads them) ↔ <see cref="ModelConfig"/>.
/// </summary>
public static class GgufModelMetadata
{
    public const string ArchitectureKey = "general.architecture";
    /// <summary>llama.cpp's llama3 RoPE scaling: F32 [rope dims / 2], divisors of each pair's base frequency.</summary>
    public const string RopeFrequenciesTensor = "rope_freqs.weight";

    // llama.cpp's LLAMA_EXPERT_GATING_FUNC_TYPE_*.
    private const uint GatingSoftmax = 1, GatingSigmoid = 2;

    /// <summary>The architecture a file declares, checked to be one we run.</summary>
    public static string ArchitectureOf(GgufFile file)
    {
        if (!file.Metadata.ContainsKey(ArchitectureKey))
            throw new InvalidModelFileException(file.Path, $"metadata key '{ArchitectureKey}' is missing, so the model type is unknown");
        string arch = file.Metadata.GetString(ArchitectureKey);
        if (!GgufArchitecture.Supported.Contains(arch))
            throw new InvalidModelFileException(file.Path, $"architecture '{arch}' is not supported; SharpSeek runs {string.Join(", ", GgufArchitecture.Supported)}");
        return arch;
    }

    /// <summary>Reads the config of a deepseek2, qwen2 or llama file (tensor shapes fill in what the keys leave out: vocabulary size, tied head, biases).</summary>
    public static ModelConfig Read(GgufFile file)
    {
        string arch = ArchitectureOf(file);
        var m = new Keys(file, arch);
        if (!file.TryGetTensorInfo("token_embd.weight", out var embedding) || embedding.Shape.Length != 2)
            throw new InvalidModelFileException(file.Path, "tensor 'token_embd.weight' (the token embedding, 2-D) is missing");
        int vocab = embedding.Shape[0];
        if (m.Has("vocab_size") && m.Int("vocab_size") != vocab)
            throw new InvalidModelFileException(file.Path, $"'{arch}.vocab_size' is {m.Int("vocab_size")} but token_embd.weight has {vocab} rows");
        int blocks = m.Int("block_count");
        int hidden = m.Int("embedding_length");
        int heads = m.Int("attention.head_count");
        bool tied = !file.ContainsTensor("output.weight");
        double eps = m.Number("attention.layer_norm_rms_epsilon");
        double theta = m.Has("rope.freq_base") ? m.Number("rope.freq_base") : 10000;
        int context = m.Has("context_length") ? m.Int("context_length") : 4096;

        ModelConfig config;
        if (arch == GgufArchitecture.DeepSeek2) config = ReadDeepSeek2(file, m, blocks, hidden, heads, vocab);
        else
        {
            if (m.Has("rope.scaling.type") && m.String("rope.scaling.type") != "none")
                throw new InvalidModelFileException(file.Path, $"RoPE scaling '{m.String("rope.scaling.type")}' on a {arch} model is not supported");
            if (arch != GgufArchitecture.Llama && file.ContainsTensor(RopeFrequenciesTensor))
                throw new InvalidModelFileException(file.Path, $"tensor '{RopeFrequenciesTensor}' (llama3-style RoPE frequency scaling) is only supported on llama models");
            int kvHeads = m.Has("attention.head_count_kv") ? m.Int("attention.head_count_kv") : heads;
            int? headDim = m.Has("attention.key_length") ? m.Int("attention.key_length") : null;
            if (headDim == hidden / heads && hidden % heads == 0) headDim = null;
            config = ModelConfigJson.DefaultsFor(arch == GgufArchitecture.Qwen2 ? "qwen2" : "llama") with
            {
                NumHiddenLayers = blocks,
                NumKeyValueHeads = kvHeads,
                HeadDim = headDim,
                IntermediateSize = m.Int("feed_forward_length"),
                AttentionBias = arch == GgufArchitecture.Qwen2 || file.ContainsTensor("blk.0.attn_q.bias"),
            };
        }
        config = config with
        {
            HiddenSize = hidden,
            NumAttentionHeads = heads,
            VocabSize = vocab,
            RmsNormEps = eps,
            RopeTheta = theta,
            MaxPositionEmbeddings = context,
            TieWordEmbeddings = tied,
        };
        if (file.ContainsTensor(RopeFrequenciesTensor)) config = config with { RopeScaling = ReadLlama3(file, config) };
        try
        {
            config.Validate();
        }
        catch (ModelConfigException e)
        {
            throw new InvalidModelFileException(file.Path, $"the metadata describes an impossible model: {e.Message}", e);
        }
        return config;
    }

    private static ModelConfig ReadDeepSeek2(GgufFile file, Keys m, int blocks, int hidden, int heads, int vocab)
    {
        int nextn = m.Has("nextn_predict_layers") ? m.Int("nextn_predict_layers") : 0;
        int layers = blocks - nextn;
        if (layers < 1) throw new InvalidModelFileException(file.Path, $"'deepseek2.block_count' {blocks} leaves no main layers after {nextn} MTP layers");
        int ropeDims = m.Int("rope.dimension_count");
        // Files written since llama.cpp split MLA's up-projection keep the per-head widths in *_mla keys
        // (key_length/value_length then describe the absorbed cache row); older files keep them in key_length/value_length.
        int qkHead = m.Has("attention.key_length_mla") ? m.Int("attention.key_length_mla") : m.Int("attention.key_length");
        int vHead = m.Has("attention.value_length_mla") ? m.Int("attention.value_length_mla") : m.Int("attention.value_length");
        int? qLora = m.Has("attention.q_lora_rank") && m.Int("attention.q_lora_rank") > 0 ? m.Int("attention.q_lora_rank") : null;
        if (qLora is null && file.ContainsTensor("blk.0.attn_q_a.weight"))
            throw new InvalidModelFileException(file.Path, "the file has query-compression tensors (attn_q_a) but no 'deepseek2.attention.q_lora_rank'");

        int experts = m.Has("expert_count") ? m.Int("expert_count") : 0;
        uint gating = m.Has("expert_gating_func") ? (uint)m.Int("expert_gating_func") : GatingSoftmax;
        if (gating is not (GatingSoftmax or GatingSigmoid))
            throw new InvalidModelFileException(file.Path, $"'deepseek2.expert_gating_func' {gating} is not supported (1 = softmax, 2 = sigmoid)");
        int groups = m.Has("expert_group_count") ? Math.Max(1, m.Int("expert_group_count")) : 1;
        int groupsUsed = m.Has("expert_group_used_count") && groups > 1 ? m.Int("expert_group_used_count") : groups;
        // Walks the tensor table rather than 0..block_count: the count is the file's claim, and a corrupt one (2^27)
        // made this loop format and look up that many names.
        bool hasBias = file.TensorNames.Any(n => IsLayerTensor(n, ".exp_probs_b.bias", blocks));
        // llama.cpp scores groups by the sum of their top-2 (biased) scores whenever there are groups: V3's noaux_tc.
        var selection = hasBias || groups > 1 ? ExpertSelection.NoAuxTopkCorrected : ExpertSelection.Greedy;
        double weightsScale = m.Has("expert_weights_scale") ? m.Number("expert_weights_scale") : 1.0;
        if (weightsScale == 0) weightsScale = 1.0; // llama.cpp: 0 means "no scaling"
        int firstDense = m.Has("leading_dense_block_count") ? m.Int("leading_dense_block_count") : 0;
        int moeFf = m.Has("expert_feed_forward_length") ? m.Int("expert_feed_forward_length") : 0;
        int denseFf = m.Has("feed_forward_length") ? m.Int("feed_forward_length") : 0;

        return new ModelConfig
        {
            ModelType = gating == GatingSigmoid || selection == ExpertSelection.NoAuxTopkCorrected || nextn > 0 ? "deepseek_v3" : "deepseek_v2",
            NumHiddenLayers = layers,
            NumKeyValueHeads = heads,
            QLoraRank = qLora,
            KvLoraRank = m.Int("attention.kv_lora_rank"),
            QkRopeHeadDim = ropeDims,
            QkNopeHeadDim = qkHead - ropeDims,
            VHeadDim = vHead,
            FirstKDenseReplace = firstDense,
            MoeLayerFreq = 1,
            IntermediateSize = denseFf > 0 ? denseFf : Math.Max(1, moeFf),
            NRoutedExperts = experts,
            NSharedExperts = m.Has("expert_shared_count") ? m.Int("expert_shared_count") : 0,
            NumExpertsPerTok = experts > 0 ? m.Int("expert_used_count") : 1,
            MoeIntermediateSize = Math.Max(1, moeFf),
            ScoringFunc = gating == GatingSigmoid ? ExpertScoring.Sigmoid : ExpertScoring.Softmax,
            TopkMethod = selection,
            NormTopkProb = m.Has("expert_weights_norm") && m.Bool("expert_weights_norm"),
            RoutedScalingFactor = weightsScale,
            NGroup = groups,
            TopkGroup = groupsUsed,
            NumNextnPredictLayers = nextn,
            RopeScaling = ReadYarn(file, m),
        };
    }

    /// <summary>
    /// llama3 scaling from <c>rope_freqs.weight</c>. The file keeps only the per-pair divisors, which the model uses as
    /// they are; the llama3 parameters (needed only to write config.json) are recovered assuming Llama 3.1's
    /// low_freq_factor 1 and high_freq_factor 4: factor is the largest divisor, and the original context is solved from a
    /// pair on the blend ramp, or llama.cpp's converter default 8192 when no pair is on it.
    /// </summary>
    private static RopeScalingConfig ReadLlama3(GgufFile file, ModelConfig config)
    {
        var info = file.GetTensorInfo(RopeFrequenciesTensor);
        int pairs = config.RopeDims / 2;
        if (info.DType != DType.F32 || info.Shape.Length != 1 || info.Shape[0] != pairs)
            throw new InvalidModelFileException(file.Path,
                $"tensor '{RopeFrequenciesTensor}' is {info.GgmlTypeName} [{string.Join(", ", info.Shape)}], expected F32 [{pairs}] (one factor per rotary pair)");
        float[] factors = file.GetTensor(info).AsSpan<float>().ToArray();
        if (factors.Any(f => !(f > 0) || !float.IsFinite(f)))
            throw new InvalidModelFileException(file.Path, $"tensor '{RopeFrequenciesTensor}' holds a factor that is not a positive finite number");

        const double low = 1, high = 4;
        double factor = Math.Max(1, factors.Max());
        var candidates = new List<int> { 8192 };
        for (int i = 0; i < pairs; i++)
        {
            if (!(factors[i] > 1 && factors[i] < factor)) continue;
            // 1/divisor = (1 − smooth)/factor + smooth, and smooth = (L/wavelength − low)/(high − low).
            double smooth = (1 / factors[i] - 1 / factor) / (1 - 1 / factor);
            double wavelength = 2 * Math.PI * Math.Pow(config.RopeTheta, 2.0 * i / config.RopeDims);
            double context = Math.Round((smooth * (high - low) + low) * wavelength);
            if (context >= 1 && context <= int.MaxValue) candidates.Add((int)context);
        }
        int original = candidates.FirstOrDefault(L => Reproduces(RopeFrequencyFactors.Llama3(config.RopeDims, config.RopeTheta, factor, low, high, L)), 8192);
        return new RopeScalingConfig
        {
            Type = "llama3",
            Factor = factor,
            LowFreqFactor = low,
            HighFreqFactor = high,
            OriginalMaxPositionEmbeddings = original,
            FrequencyFactors = factors,
        };

        bool Reproduces(double[] derived) => derived.Zip(factors).All(p => Math.Abs(p.First - p.Second) <= 1e-6 * p.First);
    }

    private static RopeScalingConfig? ReadYarn(GgufFile file, Keys m)
    {
        if (!m.Has("rope.scaling.type")) return null;
        string type = m.String("rope.scaling.type");
        if (type == "none") return null;
        if (type != "yarn") throw new InvalidModelFileException(file.Path, $"RoPE scaling '{type}' is not supported for deepseek2 (only yarn)");
        double factor = m.Number("rope.scaling.factor");
        if (factor <= 1) return null;
        // The converter stores 0.1·mscale_all_dim (llama.cpp divides by 0.1 again). llama.cpp assumes mscale = 1 unless
        // mscale_all_dim differs from 1, in which case it takes mscale = mscale_all_dim (DeepSeek-V2's config), so that is
        // what a GGUF file means.
        double mscaleAllDim = m.Has("rope.scaling.yarn_log_multiplier") ? Math.Round(m.Number("rope.scaling.yarn_log_multiplier") * 10, 6) : 0;
        return new RopeScalingConfig
        {
            Type = "yarn",
            Factor = factor,
            OriginalMaxPositionEmbeddings = m.Has("rope.scaling.original_context_length") ? m.Int("rope.scaling.original_context_length") : 4096,
            BetaFast = m.Has("rope.scaling.yarn_beta_fast") ? m.Number("rope.scaling.yarn_beta_fast") : 32,
            BetaSlow = m.Has("rope.scaling.yarn_beta_slow") ? m.Number("rope.scaling.yarn_beta_slow") : 1,
            Mscale = mscaleAllDim != 0 && mscaleAllDim != 1 ? mscaleAllDim : 1,
            MscaleAllDim = mscaleAllDim,
        };
    }

    /// <summary>
    /// The metadata entries describing <paramref name="config"/> (architecture keys only: no tokenizer, no general.*
    /// beyond the architecture). <paramref name="mtpLayers"/> is the number of MTP layers the file will hold;
    /// <paramref name="legacyMla"/> describes the pre-split layout (one attn_kv_b, per-head widths in key_length/value_length).
    /// Throws <see cref="NotSupportedException"/> for configs a GGUF file cannot express the way llama.cpp reads it.
    /// </summary>
    public static List<KeyValuePair<string, GgufValue>> Write(ModelConfig config, int mtpLayers, bool legacyMla = false)
    {
        config.Validate();
        string arch = GgufArchitecture.For(config);
        var list = new List<KeyValuePair<string, GgufValue>>();
        void Add(string key, GgufValue value) => list.Add(new($"{arch}.{key}", value));
        list.Add(new(ArchitectureKey, arch));

        Add("context_length", (uint)config.MaxPositionEmbeddings);
        Add("embedding_length", (uint)config.HiddenSize);
        Add("block_count", (uint)(config.NumHiddenLayers + mtpLayers));
        Add("feed_forward_length", (uint)config.IntermediateSize);
        Add("attention.head_count", (uint)config.NumAttentionHeads);
        Add("rope.freq_base", (float)config.RopeTheta);
        Add("attention.layer_norm_rms_epsilon", (float)config.RmsNormEps);
        Add("vocab_size", (uint)config.VocabSize);

        if (config.Architecture != ModelArchitecture.DeepSeek)
        {
            // llama3 scaling travels as the rope_freqs tensor (GgufCheckpointWriter), with no metadata keys: llama.cpp's
            // loader rejects a rope.scaling.type it does not know.
            if (config.RopeScaling is { } scaling && !(scaling.IsLlama3 && config.Architecture == ModelArchitecture.Llama))
                throw new NotSupportedException($"writing {arch} GGUF files with RoPE scaling ({scaling.Type}) is not supported");
            Add("attention.head_count_kv", (uint)config.NumKeyValueHeads);
            Add("rope.dimension_count", (uint)config.AttentionHeadDim);
            if (config.HeadDim is int hd && hd * config.NumAttentionHeads != config.HiddenSize)
            {
                Add("attention.key_length", (uint)hd);
                Add("attention.value_length", (uint)hd);
            }
            return list;
        }

        if (config.MoeLayerFreq != 1 && config.NRoutedExperts > 0)
            throw new NotSupportedException($"moe_layer_freq {config.MoeLayerFreq}: llama.cpp's deepseek2 makes every layer after the leading dense ones MoE");
        if (config.NRoutedExperts == 0)
            throw new NotSupportedException("a deepseek2 GGUF file needs routed experts (llama.cpp requires expert_count > 0)");
        if (config.TopkMethod == ExpertSelection.GroupLimitedGreedy && config.NGroup > 1 && config.TopkGroup < config.NGroup)
            throw new NotSupportedException("topk_method group_limited_greedy (a group scores its best expert) has no GGUF form: llama.cpp scores a group by its top-2 experts (noaux_tc)");
        // Split layout: MLA runs as multi-query attention over the latent. Legacy layout: plain multi-head attention.
        Add("attention.head_count_kv", legacyMla ? (uint)config.NumAttentionHeads : 1u);
        Add("leading_dense_block_count", (uint)config.FirstKDenseReplace);
        if (config.QLoraRank is int qr) Add("attention.q_lora_rank", (uint)qr);
        Add("attention.kv_lora_rank", (uint)config.KvLoraRank);
        if (legacyMla)
        {
            Add("attention.key_length", (uint)config.QkHeadDim);
            Add("attention.value_length", (uint)config.VHeadDim);
        }
        else
        {
            Add("attention.key_length", (uint)(config.KvLoraRank + config.QkRopeHeadDim));
            Add("attention.value_length", (uint)config.KvLoraRank);
            Add("attention.key_length_mla", (uint)config.QkHeadDim);
            Add("attention.value_length_mla", (uint)config.VHeadDim);
        }
        Add("expert_feed_forward_length", (uint)config.MoeIntermediateSize);
        Add("expert_count", (uint)config.NRoutedExperts);
        Add("expert_shared_count", (uint)config.NSharedExperts);
        Add("expert_used_count", (uint)config.NumExpertsPerTok);
        Add("expert_weights_scale", (float)config.RoutedScalingFactor);
        Add("expert_weights_norm", config.NormTopkProb);
        Add("expert_gating_func", config.ScoringFunc == ExpertScoring.Sigmoid ? GatingSigmoid : GatingSoftmax);
        // llama.cpp asserts topk_group < n_group when grouping; keeping every group is no grouping at all.
        bool grouped = config.NGroup > 1 && config.TopkGroup < config.NGroup;
        Add("expert_group_count", (uint)(grouped ? config.NGroup : 1));
        Add("expert_group_used_count", (uint)(grouped ? config.TopkGroup : 1));
        Add("rope.dimension_count", (uint)config.QkRopeHeadDim);
        if (config.RopeScaling is { } rs)
        {
            if (!rs.IsYarn) throw new NotSupportedException($"RoPE scaling '{rs.Type}' has no deepseek2 GGUF form (only yarn)");
            if (rs.Factor > 1)
            {
                double impliedMscale = rs.MscaleAllDim != 0 && rs.MscaleAllDim != 1 ? rs.MscaleAllDim : 1;
                if (rs.MscaleAllDim == 0 || Math.Abs(rs.Mscale - impliedMscale) > 1e-9)
                    throw new NotSupportedException(
                        $"YaRN with mscale {rs.Mscale.ToString(CultureInfo.InvariantCulture)} and mscale_all_dim {rs.MscaleAllDim.ToString(CultureInfo.InvariantCulture)} cannot be written to GGUF: " +
                        "llama.cpp stores only mscale_all_dim and assumes mscale = 1, or mscale = mscale_all_dim when that is not 1");
                Add("rope.scaling.type", "yarn");
                Add("rope.scaling.factor", (float)rs.Factor);
                Add("rope.scaling.original_context_length", (uint)rs.OriginalMaxPositionEmbeddings);
                Add("rope.scaling.yarn_beta_fast", (float)rs.BetaFast);
                Add("rope.scaling.yarn_beta_slow", (float)rs.BetaSlow);
                Add("rope.scaling.yarn_log_multiplier", (float)(0.1 * rs.MscaleAllDim));
            }
        }
        if (mtpLayers > 0) Add("nextn_predict_layers", (uint)mtpLayers);
        return list;
    }

    /// <summary>Whether <paramref name="name"/> is <c>blk.{l}{suffix}</c> for a layer l in [0, <paramref name="blocks"/>), written as the writer formats it.</summary>
    private static bool IsLayerTensor(string name, string suffix, int blocks)
    {
        // The length check first: "blk.exp_probs_b.bias" starts and ends right but shares its dot between the two.
        if (name.Length <= 4 + suffix.Length || !name.StartsWith("blk.", StringComparison.Ordinal) || !name.EndsWith(suffix, StringComparison.Ordinal)) return false;
        var digits = name.AsSpan(4, name.Length - 4 - suffix.Length);
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int layer) && layer < blocks
            && digits.SequenceEqual(layer.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Typed access to <c>{arch}.*</c> keys; values stored as per-layer arrays must be uniform.</summary>
    private sealed class Keys(GgufFile file, string arch)
    {
        private readonly GgufMetadata _m = file.Metadata;

        private string Full(string key) => $"{arch}.{key}";

        public bool Has(string key) => _m.ContainsKey(Full(key));

        public int Int(string key)
        {
            string full = Full(key);
            if (!_m.TryGetValue(full, out var v)) throw new InvalidModelFileException(file.Path, $"metadata key '{full}' is missing");
            long value;
            if (v.Value is GgufArray array)
            {
                var items = array.Items.Cast<object>().Select(o => Convert.ToInt64(o, CultureInfo.InvariantCulture)).Distinct().ToArray();
                if (items.Length != 1)
                    throw new InvalidModelFileException(file.Path, $"metadata key '{full}' varies per layer ({string.Join(", ", items)}); only uniform values are supported");
                value = items[0];
            }
            else value = _m.GetInteger(full);
            if (value < 0 || value > int.MaxValue) throw new InvalidModelFileException(file.Path, $"metadata key '{full}' is {value}, outside [0, {int.MaxValue}]");
            return (int)value;
        }

        /// <summary>A number; an F32 value becomes the double its shortest decimal form names (1e-6f reads as 1e-6, not 9.99999997e-7).</summary>
        public double Number(string key)
        {
            string full = Full(key);
            return _m.TryGetValue(full, out var v) && v.Value is float f
                ? double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)
                : _m.GetNumber(full);
        }
        public bool Bool(string key) => _m.GetBool(Full(key));
        public string String(string key) => _m.GetString(Full(key));
    }
}
