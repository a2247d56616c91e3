using SharpSeek.Checkpoints.Gguf;
using SharpSeek.Formats.Gguf;
using SharpSeek.Model;
using SharpSeek.Tensors;

namespace SharpSeek.Checkpoints.Tests;

/// <summary>Config ↔ GGUF metadata and HF ↔ GGUF tensor names, as llama.cpp writes and reads them.</summary>
public sealed class GgufMetadataTests
{
    [Theory]
    [InlineData("deepseek-v3-style")]
    [InlineData("deepseek-v2-lite-style")]
    [InlineData("deepseek-v2-style")]
    [InlineData("qwen2")]
    [InlineData("llama")]
    public void ConfigSurvivesAGgufFile(string name)
    {
        var config = TestModels.Get(name);
        using var dir = new TempDirectory();
        string path = dir.File("m.gguf");
        GgufCheckpointWriter.Write(new RandomCheckpoint(config, seed: 3), path);
        using var file = GgufFile.Open(path);
        Assert.Equal(config, GgufModelMetadata.Read(file));
    }

    [Fact]
    public void DeepSeekKeysAreWrittenAsLlamaCppExpects()
    {
        var keys = GgufModelMetadata.Write(ModelPresets.DeepSeekV2Lite, mtpLayers: 0).ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal("deepseek2", keys["general.architecture"].As<string>());
        Assert.Equal(27u, keys["deepseek2.block_count"].As<uint>());
        Assert.False(keys.ContainsKey("deepseek2.attention.q_lora_rank")); // V2-Lite has a plain q_proj
        Assert.Equal(1u, keys["deepseek2.attention.head_count_kv"].As<uint>());
        Assert.Equal(576u, keys["deepseek2.attention.key_length"].As<uint>()); // absorbed cache row: kv_lora_rank + dr
        Assert.Equal(512u, keys["deepseek2.attention.value_length"].As<uint>());
        Assert.Equal(192u, keys["deepseek2.attention.key_length_mla"].As<uint>());
        Assert.Equal(128u, keys["deepseek2.attention.value_length_mla"].As<uint>());
        Assert.Equal(1u, keys["deepseek2.expert_gating_func"].As<uint>()); // softmax
        Assert.Equal(0.0707f, keys["deepseek2.rope.scaling.yarn_log_multiplier"].As<float>(), 6); // 0.1 · mscale_all_dim
        Assert.Equal("yarn", keys["deepseek2.rope.scaling.type"].As<string>());

        var v3 = GgufModelMetadata.Write(ModelPresets.DeepSeekV3, mtpLayers: 1).ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(62u, v3["deepseek2.block_count"].As<uint>()); // 61 + the MTP layer
        Assert.Equal(1u, v3["deepseek2.nextn_predict_layers"].As<uint>());
        Assert.Equal(2u, v3["deepseek2.expert_gating_func"].As<uint>()); // sigmoid
        Assert.Equal(8u, v3["deepseek2.expert_group_count"].As<uint>());
        Assert.Equal(4u, v3["deepseek2.expert_group_used_count"].As<uint>());
        Assert.Equal(2.5f, v3["deepseek2.expert_weights_scale"].As<float>());
        Assert.True(v3["deepseek2.expert_weights_norm"].As<bool>());
        Assert.Equal(1536u, v3["deepseek2.attention.q_lora_rank"].As<uint>());
    }

    [Fact]
    public void YarnThatGgufCannotExpressIsRefused()
    {
        var config = TestModels.DeepSeekV3Style with { RopeScaling = TestModels.DeepSeekV3Style.RopeScaling! with { Mscale = 0.5 } };
        var e = Assert.Throws<NotSupportedException>(() => GgufModelMetadata.Write(config, 0));
        Assert.Contains("mscale", e.Message);
    }

    [Fact]
    public void EveryTensorNameMapsBothWays()
    {
        foreach (var config in new[] { ModelPresets.DeepSeekV3.WithDepth(5), ModelPresets.DeepSeekV2Lite.WithDepth(2), TestModels.Qwen2, TestModels.Llama })
            foreach (var layout in new[] { CheckpointLayout.Gguf, CheckpointLayout.Gguf with { SplitMlaUpProjection = false } })
                foreach (var t in ModelSpec.For(config, layout))
                {
                    string gguf = GgufTensorNames.ToGguf(t.Name);
                    Assert.Equal(t.Name, GgufTensorNames.TryFromGguf(gguf));
                }
        Assert.Equal("blk.3.exp_probs_b.bias", GgufTensorNames.ToGguf(WeightNames.RouterBias(3)));
        Assert.Equal("blk.61.nextn.eh_proj.weight", GgufTensorNames.ToGguf(WeightNames.MtpProjection(61)));
        Assert.Equal("blk.0.attn_k_b.weight", GgufTensorNames.ToGguf(WeightNames.KBProj(0)));
        Assert.Throws<ArgumentException>(() => GgufTensorNames.ToGguf(WeightNames.ExpertGate(3, 0)));
        Assert.Null(GgufTensorNames.TryFromGguf("rope_freqs.weight"));
    }

    [Fact]
    public void GroupsWithoutSelectionBiasRouteAsLlamaCppDoes()
    {
        // llama.cpp scores groups by their top-2 scores with or without exp_probs_b; without one the bias is zero.
        var config = TestModels.DeepSeekV3Style with { ScoringFunc = ExpertScoring.Softmax };
        using var dir = new TempDirectory();
        string full = dir.File("full.gguf");
        GgufCheckpointWriter.Write(new RandomCheckpoint(config, seed: 4), full);
        string stripped = dir.File("nobias.gguf");
        using (var file = GgufFile.Open(full))
        {
            var writer = new GgufWriter().AddMetadata(file.Metadata);
            foreach (var info in file.Tensors)
                if (!info.Name.EndsWith("exp_probs_b.bias", StringComparison.Ordinal)) writer.AddTensor(info.Name, file.GetTensor(info));
            writer.Write(stripped);
        }
        using var checkpoint = Checkpoint.Open(stripped);
        Assert.Equal(ExpertSelection.NoAuxTopkCorrected, checkpoint.Config.TopkMethod);
        Assert.All(checkpoint.Weights[WeightNames.RouterBias(1)].AsSpan<float>().ToArray(), b => Assert.Equal(0f, b));
        Assert.Equal(DType.F32, checkpoint.Weights[WeightNames.RouterBias(1)].DType);
    }
}
