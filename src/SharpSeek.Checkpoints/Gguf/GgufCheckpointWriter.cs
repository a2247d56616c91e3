using SharpSeek.Formats.Gguf;
using SharpSeek.Model;
using SharpSeek.Tensors;

namespace SharpSeek.Checkpoints.Gguf;

/// <summary>
/// Writes any <see cref="ICheckpointSource"/> as a GGUF file laid out as llama.cpp's converter writes it: deepseek2
/// with stacked experts (<c>ffn_*_exps</c>), MLA's up-projection split per head (<c>attn_k_b</c>/<c>attn_v_b</c>), the
/// selection bias as <c>exp_probs_b.bias</c>, MTP layers as <c>blk.N.nextn.*</c>; qwen2 as is; llama with q/k rows
/// reordered for interleaved RoPE (and llama3 scaling as <c>rope_freqs.weight</c>). Tensors are produced and quantized one at a time while the file streams out.
/// </summary>
public static class GgufCheckpointWriter
{
    public static void Write(ICheckpointSource source, string path, GgufWriteOptions? options = null)
    {
        options ??= new GgufWriteOptions();
        var config = source.Config;
        var adapter = new CheckpointLayoutAdapter(source);
        bool deepSeek = config.Architecture == ModelArchitecture.DeepSeek;
        bool mtp = deepSeek && options.IncludeMtp && config.NumNextnPredictLayers > 0
                   && (source.Contains(WeightNames.MtpProjection(config.NumHiddenLayers)));
        var layout = CheckpointLayout.Gguf with { IncludeMtp = mtp, SplitMlaUpProjection = !options.LegacyMlaLayout };
        var plan = ModelSpec.For(config, layout);

        var writer = new GgufWriter();
        foreach (var kv in GgufModelMetadata.Write(config, mtp ? config.NumNextnPredictLayers : 0, options.LegacyMlaLayout))
            writer.AddMetadata(kv.Key, kv.Value);
        writer.AddMetadata("general.name", options.Name ?? $"SharpSeek {config.ModelType}");
        writer.AddMetadata("general.file_type", GgufWeightTypes.FileType(options.WeightType));
        if (DTypeInfo.IsBlockQuantized(options.WeightType)) writer.AddMetadata("general.quantization_version", 2u);
        var extra = options.ExtraMetadata ?? GgufTokenizerMetadata.Placeholder(config.VocabSize);
        foreach (var kv in extra)
            if (!kv.Key.StartsWith("general.architecture", StringComparison.Ordinal)) writer.AddMetadata(kv.Key, kv.Value);

        // llama.cpp's converter stores llama3 RoPE scaling as per-pair frequency divisors, ahead of the weights.
        if (config.Architecture == ModelArchitecture.Llama && RopeFrequencyFactors.Of(config) is { } ropeFactors)
            writer.AddTensor(GgufModelMetadata.RopeFrequenciesTensor, DType.F32, [ropeFactors.Length], () => Tensor.FromArray(ropeFactors, ropeFactors.Length));

        foreach (var t in plan)
        {
            string ggufName = GgufTensorNames.ToGguf(t.Name);
            var dtype = options.TypeOverride?.Invoke(t) is { } chosen
                ? GgufWeightTypes.Fallback(chosen, t.FanIn)
                : GgufWeightTypes.For(t, options.WeightType, options.EmbeddingType);
            var tensor = t;
            writer.AddTensor(ggufName, dtype, t.Shape, () =>
            {
                options.Progress?.Invoke(ggufName, dtype);
                return TensorEncoder.Encode(ValuesInGgufOrder(adapter, tensor, config), dtype);
            });
        }
        writer.Write(path);
    }

    /// <summary>The values as the GGUF file stores them: Llama's q/k rows reordered for interleaved RoPE.</summary>
    private static TensorValues ValuesInGgufOrder(CheckpointLayoutAdapter adapter, TensorSpec t, ModelConfig config)
    {
        var values = adapter.Values(t);
        if (config.Architecture != ModelArchitecture.Llama) return values;
        for (int l = 0; l < config.NumHiddenLayers; l++)
        {
            if (t.Name == WeightNames.QProj(l) || t.Name == WeightNames.QBias(l)) return RotaryPairing.HalvesToInterleaved(values, config.NumAttentionHeads);
            if (t.Name == WeightNames.KProj(l) || t.Name == WeightNames.KBias(l)) return RotaryPairing.HalvesToInterleaved(values, config.NumKeyValueHeads);
        }
        return values;
    }
}
