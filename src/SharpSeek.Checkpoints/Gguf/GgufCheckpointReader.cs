using SharpSeek.Formats;
using SharpSeek.Formats.Gguf;
using SharpSeek.Model;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Checkpoints.Gguf;

/// <summary>
/// Opens a deepseek2, qwen2 or llama GGUF file as a <see cref="Checkpoint"/>: config from the metadata, every tensor the
/// config needs checked for presence and shape (naming the file and tensor when one is wrong), weights as zero-copy views.
/// </summary>
public static class GgufCheckpointReader
{
    public static Checkpoint Open(string path, FileLoadMode mode = FileLoadMode.MemoryMapped)
    {
        var file = GgufFile.Open(path, mode);
        var weights = new ModelWeights();
        try
        {
            var config = GgufModelMetadata.Read(file);
            bool deepSeek = config.Architecture == ModelArchitecture.DeepSeek;
            int mtpLayer = config.NumHiddenLayers;
            var layout = CheckpointLayout.Gguf with
            {
                SplitMlaUpProjection = !deepSeek || !file.ContainsTensor("blk.0.attn_kv_b.weight"),
                IncludeMtp = deepSeek && config.NumNextnPredictLayers > 0 && file.ContainsTensor($"blk.{mtpLayer}.nextn.eh_proj.weight"),
                MtpRepeatsEmbeddingAndHead = false,
            };
            var stored = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var t in ModelSpec.For(config, layout))
            {
                string ggufName = GgufTensorNames.ToGguf(t.Name);
                if (!file.TryGetTensorInfo(ggufName, out var info))
                {
                    if (!TensorSpecCheck.IsOptional(t, config)) throw TensorSpecCheck.Missing(file.Path, ggufName, t, config);
                    // llama.cpp treats a missing selection bias as zero (its group scoring runs without one).
                    if (t.Role == TensorRole.RouterBias) weights.Add(t.Name, Tensor.Allocate(DType.F32, t.Shape), owned: true);
                    continue;
                }
                if (!info.Shape.AsSpan().SequenceEqual(t.Shape)) throw TensorSpecCheck.WrongShape(file.Path, ggufName, info.Shape, t, config);
                weights.Add(t.Name, file.GetTensor(info), owned: false);
                stored[t.Name] = ggufName;
            }
            // The MTP layer may repeat the embedding and head (llama.cpp uses them when present).
            foreach (var t in ModelSpec.For(config, layout with { MtpRepeatsEmbeddingAndHead = true }))
            {
                if (t.Repeats is null) continue;
                string ggufName = GgufTensorNames.ToGguf(t.Name);
                if (!file.TryGetTensorInfo(ggufName, out var info)) continue;
                if (!info.Shape.AsSpan().SequenceEqual(t.Shape)) throw TensorSpecCheck.WrongShape(file.Path, ggufName, info.Shape, t, config);
                weights.Add(t.Name, file.GetTensor(info), owned: false);
                stored[t.Name] = ggufName;
            }

            // llama.cpp's converter reorders Llama's q/k rows for interleaved RoPE; the forward pass can use them as
            // stored (interleaved pairing), while conversions back to HF restore HF's row order.
            RopeLayout? denseRope = config.Architecture switch
            {
                ModelArchitecture.Llama => RopeLayout.Interleaved,
                ModelArchitecture.Qwen2 => RopeLayout.Halves,
                _ => null,
            };
            var toHf = new Dictionary<string, Func<TensorValues, TensorValues>>(StringComparer.Ordinal);
            if (config.Architecture == ModelArchitecture.Llama)
                for (int l = 0; l < config.NumHiddenLayers; l++)
                {
                    toHf[WeightNames.QProj(l)] = v => RotaryPairing.InterleavedToHalves(v, config.NumAttentionHeads);
                    toHf[WeightNames.KProj(l)] = v => RotaryPairing.InterleavedToHalves(v, config.NumKeyValueHeads);
                    toHf[WeightNames.QBias(l)] = v => RotaryPairing.InterleavedToHalves(v, config.NumAttentionHeads);
                    toHf[WeightNames.KBias(l)] = v => RotaryPairing.InterleavedToHalves(v, config.NumKeyValueHeads);
                }
            return new Checkpoint(file.Path, CheckpointFormat.Gguf, config, layout, weights, stored, file, file, denseRope, toHf);
        }
        catch
        {
            weights.Dispose();
            file.Dispose();
            throw;
        }
    }
}
