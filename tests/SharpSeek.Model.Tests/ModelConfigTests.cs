using SharpSeek.Checkpoints;
using SharpSeek.Tensors;
using SharpSeek.Model;

namespace SharpSeek.Model.Tests;

public class ModelConfigTests
{
    // The config.json of the DeepSeek-V3 checkpoint (fields as published; some unused ones dropped).
    private const string V3Json = """
    {
      "architectures": ["DeepseekV3ForCausalLM"],
      "attention_bias": false, "attention_dropout": 0.0, "aux_loss_alpha": 0.001, "bos_token_id": 0, "eos_token_id": 1,
      "ep_size": 1, "first_k_dense_replace": 3, "hidden_act": "silu", "hidden_size": 7168, "initializer_range": 0.02,
      "intermediate_size": 18432, "kv_lora_rank": 512, "max_position_embeddings": 163840, "model_type": "deepseek_v3",
      "moe_intermediate_size": 2048, "moe_layer_freq": 1, "n_group": 8, "n_routed_experts": 256, "n_shared_experts": 1,
      "norm_topk_prob": true, "num_attention_heads": 128, "num_experts_per_tok": 8, "num_hidden_layers": 61,
      "num_key_value_heads": 128, "num_nextn_predict_layers": 1, "q_lora_rank": 1536, "qk_nope_head_dim": 128,
      "qk_rope_head_dim": 64,
      "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]},
      "rms_norm_eps": 1e-06,
      "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0, "mscale_all_dim": 1.0,
                       "original_max_position_embeddings": 4096, "type": "yarn"},
      "rope_theta": 10000, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid", "seq_aux": true,
      "tie_word_embeddings": false, "topk_group": 4, "topk_method": "noaux_tc", "torch_dtype": "bfloat16",
      "use_cache": true, "v_head_dim": 128, "vocab_size": 129280
    }
    """;

    private const string V2LiteJson = """
    {
      "architectures": ["DeepseekV2ForCausalLM"], "attention_bias": false, "aux_loss_alpha": 0.001,
      "bos_token_id": 100000, "eos_token_id": 100001, "first_k_dense_replace": 1, "hidden_act": "silu",
      "hidden_size": 2048, "intermediate_size": 10944, "kv_lora_rank": 512, "max_position_embeddings": 163840,
      "model_type": "deepseek_v2", "moe_intermediate_size": 1408, "moe_layer_freq": 1, "n_group": 1,
      "n_routed_experts": 64, "n_shared_experts": 2, "norm_topk_prob": false, "num_attention_heads": 16,
      "num_experts_per_tok": 6, "num_hidden_layers": 27, "num_key_value_heads": 16, "q_lora_rank": null,
      "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "rms_norm_eps": 1e-06,
      "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 0.707, "mscale_all_dim": 0.707,
                       "original_max_position_embeddings": 4096, "type": "yarn"},
      "rope_theta": 10000, "routed_scaling_factor": 1.0, "scoring_func": "softmax", "seq_aux": true,
      "tie_word_embeddings": false, "topk_group": 1, "topk_method": "greedy", "torch_dtype": "bfloat16",
      "use_cache": true, "v_head_dim": 128, "vocab_size": 102400
    }
    """;

    [Fact]
    public void ParsesTheRealConfigs()
    {
        Assert.Equal(ModelPresets.DeepSeekV3, ModelConfigJson.Parse(V3Json));
        Assert.Equal(ModelPresets.DeepSeekV2Lite, ModelConfigJson.Parse(V2LiteJson));
    }

    public static TheoryData<string> PresetNames => new()
    {
        nameof(ModelPresets.DeepSeekV3), nameof(ModelPresets.DeepSeekV2Lite), nameof(ModelPresets.DeepSeekR1DistillQwen1_5B),
        nameof(ModelPresets.DeepSeekR1DistillLlama8B), nameof(ModelPresets.TinyDeepSeekV3), nameof(ModelPresets.TinyDeepSeekV2Lite),
        nameof(ModelPresets.TinyQwen2), nameof(ModelPresets.TinyLlama),
    };

    [Theory]
    [MemberData(nameof(PresetNames))]
    public void WriteThenParseRoundTrips(string preset)
    {
        var config = (ModelConfig)typeof(ModelPresets).GetProperty(preset)!.GetValue(null)!;
        string json = ModelConfigJson.Write(config);
        Assert.Equal(config, ModelConfigJson.Parse(json));
    }

    [Fact]
    public void MissingFieldsTakeDeepSeekDefaults()
    {
        Assert.Equal(new ModelConfig(), ModelConfigJson.Parse("{}"));
        var partial = ModelConfigJson.Parse("""{"hidden_size": 1024, "rope_scaling": null}""");
        Assert.Equal(new ModelConfig { HiddenSize = 1024 }, partial);

        // A missing q_lora_rank takes V3's 1536; an explicit null means no query compression.
        Assert.Equal(1536, ModelConfigJson.Parse("{}").QLoraRank);
        Assert.Null(ModelConfigJson.Parse("""{"q_lora_rank": null}""").QLoraRank);

        var v2 = ModelConfigJson.Parse("""{"model_type": "deepseek_v2", "n_routed_experts": 8, "num_experts_per_tok": 2}""");
        Assert.Equal(ExpertScoring.Softmax, v2.ScoringFunc);
        Assert.Equal(ExpertSelection.Greedy, v2.TopkMethod);
        Assert.Equal(0, v2.NumNextnPredictLayers);

        var qwen = ModelConfigJson.Parse("""{"model_type": "qwen2", "num_attention_heads": 12, "hidden_size": 1536}""");
        Assert.Equal(ModelArchitecture.Qwen2, qwen.Architecture);
        Assert.Equal(12, qwen.NumKeyValueHeads); // HF: no num_key_value_heads means MHA
        Assert.True(qwen.AttentionBias);
        Assert.Equal(128, qwen.AttentionHeadDim);
    }

    [Theory]
    [InlineData("not json", "(document)")]
    [InlineData("[1, 2]", "(document)")]
    [InlineData("""{"hidden_size": "7168"}""", "hidden_size")]
    [InlineData("""{"hidden_size": 7168.5}""", "hidden_size")]
    [InlineData("""{"hidden_size": -4}""", "hidden_size")]
    [InlineData("""{"num_hidden_layers": 0}""", "num_hidden_layers")]
    [InlineData("""{"model_type": "gpt2"}""", "model_type")]
    [InlineData("""{"scoring_func": "relu"}""", "scoring_func")]
    [InlineData("""{"topk_method": "random"}""", "topk_method")]
    [InlineData("""{"n_routed_experts": 12}""", "n_group")]
    [InlineData("""{"num_experts_per_tok": 300}""", "num_experts_per_tok")]
    [InlineData("""{"topk_group": 9}""", "topk_group")]
    [InlineData("""{"n_group": 8, "topk_group": 1, "num_experts_per_tok": 40}""", "num_experts_per_tok")]
    [InlineData("""{"qk_rope_head_dim": 63}""", "qk_rope_head_dim")]
    [InlineData("""{"q_lora_rank": 0}""", "q_lora_rank")]
    [InlineData("""{"rms_norm_eps": 0}""", "rms_norm_eps")]
    [InlineData("""{"tie_word_embeddings": "yes"}""", "tie_word_embeddings")]
    [InlineData("""{"rope_scaling": {"type": "linear", "factor": 2}}""", "rope_scaling.type")]
    [InlineData("""{"rope_scaling": {"type": "yarn"}}""", "rope_scaling.factor")]
    [InlineData("""{"rope_scaling": {"type": "yarn", "factor": 4, "beta_fast": 1, "beta_slow": 32}}""", "rope_scaling.beta_fast")]
    [InlineData("""{"rope_scaling": 40}""", "rope_scaling")]
    [InlineData("""{"hidden_act": "gelu"}""", "hidden_act")]
    [InlineData("""{"model_type": "qwen2", "use_sliding_window": true}""", "use_sliding_window")]
    [InlineData("""{"model_type": "llama", "num_attention_heads": 32, "num_key_value_heads": 5}""", "num_key_value_heads")]
    public void BadValuesNameTheField(string json, string field)
    {
        var e = Assert.Throws<ModelConfigException>(() => ModelConfigJson.Parse(json));
        Assert.Equal(field, e.Field);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void ParameterCountsMatchThePublishedSizes()
    {
        // DeepSeek-V3: 671B in the main model, 685B with the 14B MTP module.
        Assert.InRange(ModelPresets.DeepSeekV3.ParameterCount(includeMtp: false) / 1e9, 668, 674);
        Assert.InRange(ModelPresets.DeepSeekV3.ParameterCount() / 1e9, 682, 688);
        // DeepSeek-V2-Lite: 15.7B.
        Assert.InRange(ModelPresets.DeepSeekV2Lite.ParameterCount() / 1e9, 15.5, 16.0);
        // R1-Distill-Qwen-1.5B: 1.78B with its untied head; R1-Distill-Llama-8B: 8.03B.
        Assert.InRange(ModelPresets.DeepSeekR1DistillQwen1_5B.ParameterCount() / 1e9, 1.7, 1.85);
        Assert.InRange(ModelPresets.DeepSeekR1DistillLlama8B.ParameterCount() / 1e9, 7.9, 8.1);
    }

    [Fact]
    public void KvCacheSizesPerToken()
    {
        var v3 = ModelPresets.DeepSeekV3;
        Assert.Equal(576, v3.KvCacheElementsPerTokenPerLayer(AttentionMode.Absorbed));
        Assert.Equal(128 * (192 + 128), v3.KvCacheElementsPerTokenPerLayer(AttentionMode.Naive));
        Assert.Equal(576L * 61 * 4, v3.KvCacheBytesPerToken(AttentionMode.Absorbed));
        Assert.Equal(2 * 2 * 128, ModelPresets.DeepSeekR1DistillQwen1_5B.KvCacheElementsPerTokenPerLayer(AttentionMode.Absorbed));

        // A session's cache reports the same figure as the config: F16 by default (2 bytes), F32 when asked.
        var tiny = ModelPresets.TinyDeepSeekV3;
        using var weights = RandomWeights.Create(tiny, seed: 1);
        foreach (var mode in new[] { AttentionMode.Absorbed, AttentionMode.Naive })
            foreach (var (type, bytes) in new[] { (DType.F16, 2), (DType.BF16, 2), (DType.F32, 4) })
            {
                using var model = LanguageModel.Create(tiny, weights, new ModelOptions { Attention = mode, KvCacheType = type });
                using var s = model.CreateSession(16);
                Assert.Equal(tiny.KvCacheBytesPerToken(mode, bytes), s.KvCacheBytesPerToken);
                Assert.Equal(model.KvCacheBytesPerToken, s.KvCacheBytesPerToken);
            }
    }

    [Fact]
    public void SoftmaxScaleIncludesYarnMscaleSquared()
    {
        double m = 0.1 * Math.Log(40) + 1;
        Assert.Equal(m * m / Math.Sqrt(192), ModelPresets.DeepSeekV3.SoftmaxScale, 12);
        Assert.Equal(1 / Math.Sqrt(192), (ModelPresets.DeepSeekV3 with { RopeScaling = null }).SoftmaxScale, 12);
    }

    [Fact]
    public void WithDepthKeepsTheDenseLayersFirst()
    {
        var cut = ModelPresets.DeepSeekV3.WithDepth(2);
        Assert.Equal(2, cut.NumHiddenLayers);
        Assert.Equal(2, cut.FirstKDenseReplace);
        Assert.False(cut.IsMoeLayer(1));
        Assert.True(cut.IsMoeLayer(2)); // the MTP layer stays MoE
        Assert.Equal(5, ModelPresets.DeepSeekV3.WithDepth(5).NumHiddenLayers);
        Assert.True(ModelPresets.DeepSeekV3.WithDepth(5).IsMoeLayer(3));
    }
}
