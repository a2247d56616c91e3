using System.Text.Json;
using SharpSeek.Formats;
using SharpSeek.Formats.Safetensors;
using SharpSeek.Model;

namespace SharpSeek.Checkpoints.HuggingFace;

/// <summary>
/// Opens an HF checkpoint directory (config.json + model.safetensors or shards with an index) as a <see cref="Checkpoint"/>:
/// F32/F16/BF16 weights, or DeepSeek-V3's FP8 weights, which keep their <c>weight_scale_inv</c> attached as block scales
/// for the FP8 kernels. Every tensor the config needs is checked for presence and shape.
/// </summary>
public static class HuggingFaceCheckpointReader
{
    public const string ConfigFileName = "config.json";

    public static Checkpoint Open(string directory, FileLoadMode mode = FileLoadMode.MemoryMapped)
    {
        string dir = Path.GetFullPath(directory);
        string configPath = Path.Combine(dir, ConfigFileName);
        if (!File.Exists(configPath))
            throw new InvalidModelFileException(dir, $"no {ConfigFileName}: an HF checkpoint directory needs one beside its safetensors files");
        string json = File.ReadAllText(configPath);
        ModelConfig config;
        try
        {
            config = ModelConfigJson.Parse(json);
        }
        catch (ModelConfigException e)
        {
            throw new InvalidModelFileException(configPath, e.Message, e);
        }
        CheckQuantizationConfig(configPath, json);

        var files = SafetensorsDirectory.Open(dir, mode);
        var weights = new ModelWeights();
        try
        {
            bool deepSeek = config.Architecture == ModelArchitecture.DeepSeek;
            int firstMoe = Enumerable.Range(0, config.NumHiddenLayers).FirstOrDefault(config.IsMoeLayer, -1);
            int mtpLayer = config.NumHiddenLayers;
            var layout = new CheckpointLayout
            {
                StackedExperts = firstMoe >= 0 && files.ContainsTensor(WeightNames.StackedExpertGate(firstMoe)),
                SplitMlaUpProjection = deepSeek && files.ContainsTensor(WeightNames.KBProj(0)),
                IncludeMtp = deepSeek && config.NumNextnPredictLayers > 0 && files.ContainsTensor(WeightNames.MtpProjection(mtpLayer)),
                MtpRepeatsEmbeddingAndHead = false,
            };
            var stored = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var t in ModelSpec.For(config, layout))
            {
                if (!files.ContainsTensor(t.Name))
                {
                    if (TensorSpecCheck.IsOptional(t, config) && t.Role != TensorRole.RouterBias) continue;
                    throw TensorSpecCheck.Missing(files.IndexPath ?? dir, t.Name, t, config);
                }
                var tensor = Fp8ScalePairing.GetWeight(files, t.Name);
                if (!tensor.Shape.AsSpan().SequenceEqual(t.Shape))
                    throw TensorSpecCheck.WrongShape(files.FileOf(t.Name), t.Name, tensor.Shape, t, config);
                weights.Add(t.Name, tensor, owned: false);
                stored[t.Name] = t.Name;
            }
            // The MTP layer may repeat the embedding and head (the released V3 checkpoint does).
            foreach (var t in ModelSpec.For(config, layout with { MtpRepeatsEmbeddingAndHead = true }))
            {
                if (t.Repeats is null || !files.ContainsTensor(t.Name)) continue;
                var tensor = Fp8ScalePairing.GetWeight(files, t.Name);
                if (!tensor.Shape.AsSpan().SequenceEqual(t.Shape))
                    throw TensorSpecCheck.WrongShape(files.FileOf(t.Name), t.Name, tensor.Shape, t, config);
                weights.Add(t.Name, tensor, owned: false);
            }
            return new Checkpoint(dir, CheckpointFormat.HuggingFace, config, layout, weights, stored, files, null, null);
        }
        catch
        {
            weights.Dispose();
            files.Dispose();
            throw;
        }
    }

    /// <summary>Accepts no quantization_config, or DeepSeek's FP8 one (e4m3, 128×128 blocks); anything else is refused by name.</summary>
    private static void CheckQuantizationConfig(string configPath, string json)
    {
        using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        if (!doc.RootElement.TryGetProperty("quantization_config", out var q) || q.ValueKind == JsonValueKind.Null) return;
        string? method = q.TryGetProperty("quant_method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        if (method != "fp8")
            throw new InvalidModelFileException(configPath, $"quantization_config.quant_method '{method ?? "(missing)"}' is not supported (only DeepSeek's block-scaled fp8)");
        if (q.TryGetProperty("fmt", out var fmt) && fmt.ValueKind == JsonValueKind.String && fmt.GetString() != "e4m3")
            throw new InvalidModelFileException(configPath, $"quantization_config.fmt '{fmt.GetString()}' is not supported (only e4m3)");
        if (q.TryGetProperty("weight_block_size", out var bs))
        {
            bool ok = bs.ValueKind == JsonValueKind.Array && bs.GetArrayLength() == 2
                      && bs.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) && v == SharpSeek.Tensors.Tensor.Fp8BlockSize);
            if (!ok) throw new InvalidModelFileException(configPath, $"quantization_config.weight_block_size {bs.GetRawText()} is not supported (only [128, 128])");
        }
    }
}
