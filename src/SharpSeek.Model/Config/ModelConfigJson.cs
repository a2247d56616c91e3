using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SharpSeek.Model;

/// <summary>
/// Reads and writes HF <c>config.json</c>. Unknown fields are ignored (real configs carry many we do not need);
/// a missing field takes the default of its <c>model_type</c> (DeepSeek-V3's when model_type is absent), a JSON null
/// counts as missing except for the fields where null means something (q_lora_rank, head_dim, rope_scaling), and a
/// value of the wrong kind or range is a <see cref="ModelConfigException"/> naming the field.
/// </summary>
public static class ModelConfigJson
{
    public static ModelConfig Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ModelConfigException("(document)", $"config.json is not valid JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ModelConfigException("(document)", $"config.json must be a JSON object, got {root.ValueKind}");

            string modelType = String(root, "model_type") ?? "deepseek_v3";
            var c = DefaultsFor(modelType);
            int heads = Int(root, "num_attention_heads") ?? c.NumAttentionHeads;
            c = c with
            {
                HiddenSize = Int(root, "hidden_size") ?? c.HiddenSize,
                NumHiddenLayers = Int(root, "num_hidden_layers") ?? c.NumHiddenLayers,
                NumAttentionHeads = heads,
                // HF: a missing num_key_value_heads means plain multi-head attention.
                NumKeyValueHeads = Int(root, "num_key_value_heads") ?? (Has(root, "num_attention_heads") ? heads : c.NumKeyValueHeads),
                HeadDim = Has(root, "head_dim") ? NullableInt(root, "head_dim") : c.HeadDim,
                VocabSize = Int(root, "vocab_size") ?? c.VocabSize,
                IntermediateSize = Int(root, "intermediate_size") ?? c.IntermediateSize,
                RmsNormEps = Double(root, "rms_norm_eps") ?? c.RmsNormEps,
                RopeTheta = Double(root, "rope_theta") ?? c.RopeTheta,
                RopeScaling = Has(root, "rope_scaling") ? ParseRopeScaling(root.GetProperty("rope_scaling")) : c.RopeScaling,
                MaxPositionEmbeddings = Int(root, "max_position_embeddings") ?? c.MaxPositionEmbeddings,
                TieWordEmbeddings = Bool(root, "tie_word_embeddings") ?? c.TieWordEmbeddings,
                AttentionBias = Bool(root, "attention_bias") ?? c.AttentionBias,
                QLoraRank = Has(root, "q_lora_rank") ? NullableInt(root, "q_lora_rank") : c.QLoraRank,
                KvLoraRank = Int(root, "kv_lora_rank") ?? c.KvLoraRank,
                QkNopeHeadDim = Int(root, "qk_nope_head_dim") ?? c.QkNopeHeadDim,
                QkRopeHeadDim = Int(root, "qk_rope_head_dim") ?? c.QkRopeHeadDim,
                VHeadDim = Int(root, "v_head_dim") ?? c.VHeadDim,
                FirstKDenseReplace = Int(root, "first_k_dense_replace") ?? c.FirstKDenseReplace,
                MoeLayerFreq = Int(root, "moe_layer_freq") ?? c.MoeLayerFreq,
                NRoutedExperts = Int(root, "n_routed_experts") ?? c.NRoutedExperts,
                NSharedExperts = Int(root, "n_shared_experts") ?? c.NSharedExperts,
                NumExpertsPerTok = Int(root, "num_experts_per_tok") ?? c.NumExpertsPerTok,
                MoeIntermediateSize = Int(root, "moe_intermediate_size") ?? c.MoeIntermediateSize,
                ScoringFunc = String(root, "scoring_func") is { } sf ? ParseScoring(sf) : c.ScoringFunc,
                TopkMethod = String(root, "topk_method") is { } tm ? ParseSelection(tm) : c.TopkMethod,
                NormTopkProb = Bool(root, "norm_topk_prob") ?? c.NormTopkProb,
                RoutedScalingFactor = Double(root, "routed_scaling_factor") ?? c.RoutedScalingFactor,
                NGroup = Int(root, "n_group") ?? c.NGroup,
                TopkGroup = Int(root, "topk_group") ?? c.TopkGroup,
                NumNextnPredictLayers = Int(root, "num_nextn_predict_layers") ?? c.NumNextnPredictLayers,
            };
            if (c.Architecture == ModelArchitecture.Qwen2) c = c with { AttentionBias = true };
            if (Bool(root, "use_sliding_window") == true)
                throw new ModelConfigException("use_sliding_window", "sliding-window attention is not supported");
            if (Bool(root, "mlp_bias") == true) throw new ModelConfigException("mlp_bias", "biases on the feed-forward projections are not supported");
            if (String(root, "hidden_act") is { } act && act != "silu")
                throw new ModelConfigException("hidden_act", $"only silu (SwiGLU) is supported, got '{act}'");
            c.Validate();
            return c;
        }
    }

    /// <summary>HF's defaults for each model_type (DeepseekV3Config, DeepseekV2Config, Qwen2Config, LlamaConfig).</summary>
    public static ModelConfig DefaultsFor(string modelType) => modelType switch
    {
        "deepseek_v3" => new ModelConfig(),
        "deepseek_v2" => new ModelConfig
        {
            ModelType = "deepseek_v2", VocabSize = 102400, HiddenSize = 4096, IntermediateSize = 11008, MoeIntermediateSize = 1407,
            NumHiddenLayers = 30, NumAttentionHeads = 32, NumKeyValueHeads = 32, NSharedExperts = 0, NRoutedExperts = 0,
            NumExpertsPerTok = 1, RoutedScalingFactor = 1.0, TopkMethod = ExpertSelection.Greedy, NGroup = 1, TopkGroup = 1,
            FirstKDenseReplace = 0, NormTopkProb = false, ScoringFunc = ExpertScoring.Softmax, MaxPositionEmbeddings = 2048,
            NumNextnPredictLayers = 0,
        },
        "qwen2" => new ModelConfig
        {
            ModelType = "qwen2", VocabSize = 151936, HiddenSize = 4096, IntermediateSize = 22016, NumHiddenLayers = 32,
            NumAttentionHeads = 32, NumKeyValueHeads = 32, MaxPositionEmbeddings = 32768, AttentionBias = true,
            NRoutedExperts = 0, NumNextnPredictLayers = 0, QLoraRank = null,
        },
        "llama" => new ModelConfig
        {
            ModelType = "llama", VocabSize = 32000, HiddenSize = 4096, IntermediateSize = 11008, NumHiddenLayers = 32,
            NumAttentionHeads = 32, NumKeyValueHeads = 32, MaxPositionEmbeddings = 2048, AttentionBias = false,
            NRoutedExperts = 0, NumNextnPredictLayers = 0, QLoraRank = null,
        },
        _ => throw new ModelConfigException("model_type", $"'{modelType}' is not supported (deepseek_v3, deepseek_v2, qwen2, llama)"),
    };

    /// <summary>Writes the fields of <paramref name="c"/>'s architecture as an HF config.json (indented).</summary>
    public static string Write(ModelConfig c)
    {
        c.Validate();
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("architectures");
            w.WriteStringValue(c.ModelType switch
            {
                "deepseek_v3" => "DeepseekV3ForCausalLM",
                "deepseek_v2" => "DeepseekV2ForCausalLM",
                "qwen2" => "Qwen2ForCausalLM",
                _ => "LlamaForCausalLM",
            });
            w.WriteEndArray();
            w.WriteString("model_type", c.ModelType);
            w.WriteString("hidden_act", "silu");
            w.WriteNumber("hidden_size", c.HiddenSize);
            w.WriteNumber("num_hidden_layers", c.NumHiddenLayers);
            w.WriteNumber("num_attention_heads", c.NumAttentionHeads);
            w.WriteNumber("num_key_value_heads", c.NumKeyValueHeads);
            w.WriteNumber("vocab_size", c.VocabSize);
            w.WriteNumber("intermediate_size", c.IntermediateSize);
            w.WriteNumber("rms_norm_eps", c.RmsNormEps);
            w.WriteNumber("rope_theta", c.RopeTheta);
            w.WriteNumber("max_position_embeddings", c.MaxPositionEmbeddings);
            w.WriteBoolean("tie_word_embeddings", c.TieWordEmbeddings);
            if (c.RopeScaling is { } rs)
            {
                w.WriteStartObject("rope_scaling");
                w.WriteString("type", rs.Type);
                w.WriteNumber("factor", rs.Factor);
                w.WriteNumber("original_max_position_embeddings", rs.OriginalMaxPositionEmbeddings);
                if (rs.IsYarn)
                {
                    w.WriteNumber("beta_fast", rs.BetaFast);
                    w.WriteNumber("beta_slow", rs.BetaSlow);
                    w.WriteNumber("mscale", rs.Mscale);
                    w.WriteNumber("mscale_all_dim", rs.MscaleAllDim);
                }
                else
                {
                    if (rs.FrequencyFactors is { } stored && !Llama3ParametersReproduce(c, rs, stored))
                        throw new NotSupportedException(
                            "this config's RoPE frequency factors (from a GGUF rope_freqs tensor) are not the llama3 scaling its " +
                            "factor/low_freq_factor/high_freq_factor/original_max_position_embeddings describe, and config.json has no field for explicit factors");
                    w.WriteNumber("low_freq_factor", rs.LowFreqFactor);
                    w.WriteNumber("high_freq_factor", rs.HighFreqFactor);
                }
                w.WriteEndObject();
            }
            else w.WriteNull("rope_scaling");

            if (c.Architecture == ModelArchitecture.DeepSeek)
            {
                if (c.QLoraRank is int qr) w.WriteNumber("q_lora_rank", qr); else w.WriteNull("q_lora_rank");
                w.WriteNumber("kv_lora_rank", c.KvLoraRank);
                w.WriteNumber("qk_nope_head_dim", c.QkNopeHeadDim);
                w.WriteNumber("qk_rope_head_dim", c.QkRopeHeadDim);
                w.WriteNumber("v_head_dim", c.VHeadDim);
                w.WriteNumber("first_k_dense_replace", c.FirstKDenseReplace);
                w.WriteNumber("moe_layer_freq", c.MoeLayerFreq);
                w.WriteNumber("n_routed_experts", c.NRoutedExperts);
                w.WriteNumber("n_shared_experts", c.NSharedExperts);
                w.WriteNumber("num_experts_per_tok", c.NumExpertsPerTok);
                w.WriteNumber("moe_intermediate_size", c.MoeIntermediateSize);
                w.WriteString("scoring_func", c.ScoringFunc == ExpertScoring.Sigmoid ? "sigmoid" : "softmax");
                w.WriteString("topk_method", c.TopkMethod switch
                {
                    ExpertSelection.Greedy => "greedy",
                    ExpertSelection.GroupLimitedGreedy => "group_limited_greedy",
                    _ => "noaux_tc",
                });
                w.WriteBoolean("norm_topk_prob", c.NormTopkProb);
                w.WriteNumber("routed_scaling_factor", c.RoutedScalingFactor);
                w.WriteNumber("n_group", c.NGroup);
                w.WriteNumber("topk_group", c.TopkGroup);
                w.WriteNumber("num_nextn_predict_layers", c.NumNextnPredictLayers);
            }
            else
            {
                if (c.HeadDim is int hd) w.WriteNumber("head_dim", hd);
                w.WriteBoolean("attention_bias", c.AttentionBias);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Do the llama3 parameters give the stored factors (to the F32 precision a GGUF file keeps them in)?</summary>
    private static bool Llama3ParametersReproduce(ModelConfig c, RopeScalingConfig rs, IReadOnlyList<float> stored)
    {
        var derived = RopeFrequencyFactors.Llama3(c.RopeDims, c.RopeTheta, rs.Factor, rs.LowFreqFactor, rs.HighFreqFactor, rs.OriginalMaxPositionEmbeddings);
        return derived.Length == stored.Count && derived.Zip(stored).All(p => Math.Abs(p.First - p.Second) <= 1e-6 * p.First);
    }

    private static RopeScalingConfig? ParseRopeScaling(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Object) throw new ModelConfigException("rope_scaling", $"must be an object or null, got {e.ValueKind}");
        string? type = String(e, "type", "rope_scaling.") ?? String(e, "rope_type", "rope_scaling.");
        if (type is null) throw new ModelConfigException("rope_scaling.type", "is missing");
        if (type == "default") return null;
        if (type != "yarn" && type != "llama3")
            throw new ModelConfigException("rope_scaling.type", $"'{type}' is not supported (yarn or llama3)");
        var d = new RopeScalingConfig { Type = type };
        return d with
        {
            Factor = Double(e, "factor", "rope_scaling.") ?? throw new ModelConfigException("rope_scaling.factor", "is missing"),
            OriginalMaxPositionEmbeddings = Int(e, "original_max_position_embeddings", "rope_scaling.") ?? d.OriginalMaxPositionEmbeddings,
            BetaFast = Double(e, "beta_fast", "rope_scaling.") ?? d.BetaFast,
            BetaSlow = Double(e, "beta_slow", "rope_scaling.") ?? d.BetaSlow,
            Mscale = Double(e, "mscale", "rope_scaling.") ?? d.Mscale,
            MscaleAllDim = Double(e, "mscale_all_dim", "rope_scaling.") ?? d.MscaleAllDim,
            LowFreqFactor = Double(e, "low_freq_factor", "rope_scaling.") ?? d.LowFreqFactor,
            HighFreqFactor = Double(e, "high_freq_factor", "rope_scaling.") ?? d.HighFreqFactor,
        };
    }

    private static ExpertScoring ParseScoring(string s) => s switch
    {
        "sigmoid" => ExpertScoring.Sigmoid,
        "softmax" => ExpertScoring.Softmax,
        _ => throw new ModelConfigException("scoring_func", $"'{s}' is not supported (sigmoid or softmax)"),
    };

    private static ExpertSelection ParseSelection(string s) => s switch
    {
        "greedy" => ExpertSelection.Greedy,
        "group_limited_greedy" => ExpertSelection.GroupLimitedGreedy,
        "noaux_tc" => ExpertSelection.NoAuxTopkCorrected,
        _ => throw new ModelConfigException("topk_method", $"'{s}' is not supported (greedy, group_limited_greedy or noaux_tc)"),
    };

    // ---- typed field readers: null counts as absent; the wrong kind is an error naming the field ----

    private static bool Has(JsonElement o, string name) => o.TryGetProperty(name, out _);

    private static bool TryGet(JsonElement o, string name, out JsonElement v)
        => o.TryGetProperty(name, out v) && v.ValueKind != JsonValueKind.Null;

    private static int? Int(JsonElement o, string name, string prefix = "")
    {
        if (!TryGet(o, name, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number)
        {
            if (v.TryGetInt32(out int i)) return i;
            // 4096.0 is an integer too; 4096.5 or 1e12 is not.
            if (v.TryGetDouble(out double d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue) return (int)d;
        }
        throw new ModelConfigException(prefix + name, $"must be an integer, got {Show(v)}");
    }

    private static int? NullableInt(JsonElement o, string name) => Int(o, name);

    private static double? Double(JsonElement o, string name, string prefix = "")
    {
        if (!TryGet(o, name, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d)) return d;
        throw new ModelConfigException(prefix + name, $"must be a number, got {Show(v)}");
    }

    private static bool? Bool(JsonElement o, string name)
    {
        if (!TryGet(o, name, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ModelConfigException(name, $"must be true or false, got {Show(v)}"),
        };
    }

    private static string? String(JsonElement o, string name, string prefix = "")
    {
        if (!TryGet(o, name, out var v)) return null;
        if (v.ValueKind == JsonValueKind.String) return v.GetString();
        throw new ModelConfigException(prefix + name, $"must be a string, got {Show(v)}");
    }

    private static string Show(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => $"\"{v.GetString()}\"",
        JsonValueKind.Number => v.GetRawText(),
        _ => $"{v.ValueKind.ToString().ToLower(CultureInfo.InvariantCulture)} {v.GetRawText()}",
    };
}
