using System.Text.Json.Nodes;
using SharpSeek.Formats.Safetensors;
using SharpSeek.Model;
using SharpSeek.Tensors;
using SharpSeek.Formats;

namespace SharpSeek.Checkpoints.HuggingFace;

/// <summary>
/// Writes any <see cref="ICheckpointSource"/> as an HF checkpoint directory: config.json (with DeepSeek's
/// quantization_config for FP8) and safetensors with HF names and layout (one tensor per expert, fused kv_b_proj, the MTP
/// layer repeating embedding and head as the V3 release does). Tensors are produced one at a time while the files stream out.
/// </summary>
public static class HuggingFaceCheckpointWriter
{
    public static IReadOnlyList<DType> WeightTypes { get; } = [DType.F32, DType.F16, DType.BF16, DType.F8E4M3];

    public static void Write(ICheckpointSource source, string directory, HuggingFaceWriteOptions? options = null)
    {
        options ??= new HuggingFaceWriteOptions();
        if (!WeightTypes.Contains(options.WeightType))
            throw new ArgumentException($"{options.WeightType} cannot be written to safetensors; use one of {string.Join(", ", WeightTypes)}");
        var other = options.OtherType ?? (options.WeightType == DType.F32 ? DType.F32 : DType.BF16);
        if (other is not (DType.F32 or DType.F16 or DType.BF16))
            throw new ArgumentException($"non-linear tensors are stored as F32, F16 or BF16, not {other}");
        var config = source.Config;
        bool mtp = config.Architecture == ModelArchitecture.DeepSeek && options.IncludeMtp && config.NumNextnPredictLayers > 0
                   && source.Contains(WeightNames.MtpProjection(config.NumHiddenLayers));
        var plan = ModelSpec.For(config, CheckpointLayout.HuggingFace with { IncludeMtp = mtp });
        var adapter = new CheckpointLayoutAdapter(source);

        Directory.CreateDirectory(directory);
        var writer = new SafetensorsWriter();
        writer.Metadata["format"] = "pt";
        long total = 0;
        foreach (var t in plan)
        {
            var tensor = t;
            bool fp8 = options.WeightType == DType.F8E4M3 && t.Role == TensorRole.Linear && t.Shape.Length == 2;
            var dtype = t.Role == TensorRole.Linear ? options.WeightType : other;
            if (fp8)
            {
                // The weight's factory quantizes and leaves the scales for the scale tensor's factory, written right after.
                Tensor? scales = null;
                writer.AddTensor(t.Name, DType.F8E4M3, t.Shape, () =>
                {
                    options.Progress?.Invoke(tensor.Name, DType.F8E4M3);
                    var weight = TensorEncoder.Encode(adapter.Values(tensor), DType.F8E4M3);
                    scales = weight.BlockScales;
                    return weight;
                });
                int[] scaleShape = [(t.Shape[0] + Tensor.Fp8BlockSize - 1) / Tensor.Fp8BlockSize, (t.Shape[1] + Tensor.Fp8BlockSize - 1) / Tensor.Fp8BlockSize];
                writer.AddTensor(Fp8ScalePairing.ScaleNameFor(t.Name), DType.F32, scaleShape,
                    () => scales ?? throw new InvalidOperationException($"the scales of '{tensor.Name}' were requested before its weight was written"));
                total += t.ElementCount + (long)scaleShape[0] * scaleShape[1] * 4;
            }
            else
            {
                if (dtype == DType.F8E4M3) dtype = DType.BF16; // FP8 covers 2-D linear weights only
                var d = dtype;
                writer.AddTensor(t.Name, d, t.Shape, () =>
                {
                    options.Progress?.Invoke(tensor.Name, d);
                    return TensorEncoder.Encode(adapter.Values(tensor), d);
                });
                total += DTypeInfo.ByteCount(d, t.ElementCount);
            }
        }
        WriteConfig(config, Path.Combine(directory, HuggingFaceCheckpointReader.ConfigFileName), options.WeightType, mtp);
        if (total <= options.MaxShardBytes) writer.Write(Path.Combine(directory, "model.safetensors"));
        else writer.WriteSharded(directory, options.MaxShardBytes);
    }

    private static void WriteConfig(ModelConfig config, string path, DType weightType, bool mtp)
    {
        bool fp8 = weightType == DType.F8E4M3;
        var json = JsonNode.Parse(ModelConfigJson.Write(config))!.AsObject();
        if (config.Architecture == ModelArchitecture.DeepSeek && !mtp) json["num_nextn_predict_layers"] = 0;
        if (fp8)
            json["quantization_config"] = new JsonObject
            {
                ["activation_scheme"] = "dynamic",
                ["fmt"] = "e4m3",
                ["quant_method"] = "fp8",
                ["weight_block_size"] = new JsonArray(Tensor.Fp8BlockSize, Tensor.Fp8BlockSize),
            };
        json["torch_dtype"] = weightType switch { DType.F32 => "float32", DType.F16 => "float16", _ => "bfloat16" };
        AtomicFile.WriteAllText(path, json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }
}
