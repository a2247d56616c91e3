using SharpSeek.Checkpoints.Gguf;
using SharpSeek.Checkpoints.HuggingFace;
using SharpSeek.Formats;
using SharpSeek.Formats.Gguf;
using SharpSeek.Formats.Safetensors;
using SharpSeek.Model;
using SharpSeek.Tensors;

namespace SharpSeek.Checkpoints.Tests;

/// <summary>Model-level problems in otherwise well-formed containers are reported naming the file and the problem.</summary>
public sealed class BadFileTests
{
    private static string WriteGguf(TempDirectory dir, ModelConfig config, string name = "model.gguf")
    {
        string path = dir.File(name);
        GgufCheckpointWriter.Write(new RandomCheckpoint(config, seed: 1), path);
        return path;
    }

    /// <summary>Rewrites a GGUF file with its metadata and tensors passed through <paramref name="edit"/>.</summary>
    private static string Rewrite(string source, string target, Func<string, GgufValue, GgufValue?>? metadata = null,
        Func<GgufTensorInfo, GgufFile, Tensor?>? tensors = null)
    {
        using var file = GgufFile.Open(source);
        var writer = new GgufWriter();
        foreach (var (key, value) in file.Metadata)
            if ((metadata is null ? value : metadata(key, value)) is { } kept) writer.AddMetadata(key, kept);
        foreach (var info in file.Tensors)
            if ((tensors is null ? file.GetTensor(info) : tensors(info, file)) is { } t) writer.AddTensor(info.Name, t);
        writer.Write(target);
        return target;
    }

    [Fact]
    public void MissingTensorNamesFileAndTensor()
    {
        using var dir = new TempDirectory();
        string bad = Rewrite(WriteGguf(dir, TestModels.DeepSeekV3Style), dir.File("bad.gguf"),
            tensors: (info, file) => info.Name == "blk.2.ffn_up_exps.weight" ? null : file.GetTensor(info));
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(bad));
        Assert.Equal(bad, e.FilePath);
        Assert.Contains("blk.2.ffn_up_exps.weight", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void WrongShapeNamesTensorBothShapesAndConfig()
    {
        using var dir = new TempDirectory();
        using var wrong = Tensor.Allocate(DType.F32, 48, 64);
        string bad = Rewrite(WriteGguf(dir, TestModels.DeepSeekV3Style), dir.File("bad.gguf"),
            tensors: (info, file) => info.Name == "blk.1.attn_kv_a_mqa.weight" ? wrong : file.GetTensor(info));
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(bad));
        Assert.Equal(bad, e.FilePath);
        Assert.Contains("blk.1.attn_kv_a_mqa.weight", e.Message);
        Assert.Contains("[48, 64]", e.Message);
        Assert.Contains("[40, 64]", e.Message);
        Assert.Contains("kv_lora_rank 32", e.Message);
    }

    [Fact]
    public void UnsupportedArchitectureIsNamed()
    {
        using var dir = new TempDirectory();
        string bad = Rewrite(WriteGguf(dir, TestModels.Llama), dir.File("bad.gguf"),
            metadata: (key, value) => key == "general.architecture" ? "gpt2" : value);
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(bad));
        Assert.Equal(bad, e.FilePath);
        Assert.Contains("'gpt2' is not supported", e.Message);
    }

    [Fact]
    public void MissingMetadataKeyIsNamed()
    {
        using var dir = new TempDirectory();
        string bad = Rewrite(WriteGguf(dir, TestModels.DeepSeekV3Style), dir.File("bad.gguf"),
            metadata: (key, value) => key == "deepseek2.attention.kv_lora_rank" ? null : value);
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(bad));
        Assert.Equal(bad, e.FilePath);
        Assert.Contains("deepseek2.attention.kv_lora_rank", e.Message);
    }

    [Fact]
    public void ImpossibleMetadataIsReported()
    {
        using var dir = new TempDirectory();
        string bad = Rewrite(WriteGguf(dir, TestModels.DeepSeekV3Style), dir.File("bad.gguf"),
            metadata: (key, value) => key == "deepseek2.expert_used_count" ? GgufValue.UInt32(17) : value);
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(bad));
        Assert.Contains("num_experts_per_tok", e.Message);
    }

    [Fact]
    public void NonGgufFileIsRefused()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.bin");
        File.WriteAllBytes(path, new byte[64]);
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(path));
        Assert.Equal(path, e.FilePath);
    }

    private static string WriteHf(TempDirectory dir, DType weightType = DType.F32)
    {
        string path = dir.File("hf");
        HuggingFaceCheckpointWriter.Write(new RandomCheckpoint(TestModels.DeepSeekV3Style, seed: 1), path, new HuggingFaceWriteOptions { WeightType = weightType });
        return path;
    }

    [Fact]
    public void HuggingFaceDirectoryWithoutConfigIsRefused()
    {
        using var dir = new TempDirectory();
        string hf = WriteHf(dir);
        File.Delete(Path.Combine(hf, "config.json"));
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(hf));
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void BadConfigFieldNamesConfigFile()
    {
        using var dir = new TempDirectory();
        string hf = WriteHf(dir);
        string config = Path.Combine(hf, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"kv_lora_rank\": 32", "\"kv_lora_rank\": \"wide\""));
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(hf));
        Assert.Equal(config, e.FilePath);
        Assert.Contains("kv_lora_rank", e.Message);
    }

    [Fact]
    public void ConfigThatDoesNotMatchTheTensorsNamesTheShard()
    {
        using var dir = new TempDirectory();
        string hf = WriteHf(dir);
        string config = Path.Combine(hf, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"moe_intermediate_size\": 32", "\"moe_intermediate_size\": 48"));
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(hf));
        Assert.EndsWith("model.safetensors", e.FilePath);
        Assert.Contains("mlp.experts.0.gate_proj.weight", e.Message);
        Assert.Contains("[48, 64]", e.Message);
    }

    [Fact]
    public void UnsupportedQuantizationIsNamed()
    {
        using var dir = new TempDirectory();
        string hf = WriteHf(dir);
        string config = Path.Combine(hf, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).TrimEnd().TrimEnd('}') + ", \"quantization_config\": {\"quant_method\": \"gptq\"}}");
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(hf));
        Assert.Equal(config, e.FilePath);
        Assert.Contains("gptq", e.Message);
    }

    [Fact]
    public void Fp8WeightWithoutScalesIsRefused()
    {
        using var dir = new TempDirectory();
        string hf = WriteHf(dir, DType.F8E4M3);
        string file = Path.Combine(hf, "model.safetensors");
        // Rewrite the shard without one weight_scale_inv.
        using (var st = SafetensorsFile.Open(file, FileLoadMode.ReadIntoMemory))
        {
            var writer = new SafetensorsWriter();
            foreach (var name in st.TensorNames)
                if (name != "model.layers.0.self_attn.q_b_proj.weight_scale_inv") writer.AddTensor(name, st.GetTensor(name));
            writer.Write(dir.File("stripped.safetensors"));
        }
        File.Move(dir.File("stripped.safetensors"), file, overwrite: true);
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(hf));
        Assert.Contains("q_b_proj.weight_scale_inv", e.Message);
    }
}
