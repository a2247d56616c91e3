using SharpSeek.Checkpoints.Gguf;
using SharpSeek.Checkpoints.HuggingFace;
using SharpSeek.Formats.Gguf;
using SharpSeek.Formats.Safetensors;
using SharpSeek.Model;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Quantization;
using Xunit.Abstractions;

namespace SharpSeek.Checkpoints.Tests;

/// <summary>
/// HF safetensors directories (F32, BF16, DeepSeek's block-scaled FP8) ↔ GGUF: the converted model computes the same
/// logits as the original, and llama.cpp agrees with us on a file converted from an FP8 checkpoint.
/// </summary>
public sealed class ConversionTests(ITestOutputHelper output)
{
    // Same values, different kernels (FP8/BF16 weights widened in registers vs F32 weights): only summation order differs.
    private const double SameValuesTolerance = 1e-5;

    private static float[] Logits(Checkpoint checkpoint, int[] tokens)
    {
        using var model = checkpoint.CreateModel();
        return TestModels.RunAllPositions(model, tokens);
    }

    private static float[][] Rows(float[] flat, int vocab)
        => Enumerable.Range(0, flat.Length / vocab).Select(p => flat.AsSpan(p * vocab, vocab).ToArray()).ToArray();

    [Theory]
    [InlineData("F8E4M3")]
    [InlineData("BF16")]
    [InlineData("F32")]
    public void HuggingFaceDirectoryToGgufKeepsLogits(string hfWeightType)
    {
        var config = TestModels.DeepSeekV3Style;
        using var dir = new TempDirectory();
        string hf = dir.File("hf");
        HuggingFaceCheckpointWriter.Write(new RandomCheckpoint(config, seed: 5), hf, new HuggingFaceWriteOptions { WeightType = Enum.Parse<DType>(hfWeightType) });
        int[] tokens = TestModels.Tokens(64, config.VocabSize, seed: 3);

        using var original = Checkpoint.Open(hf);
        Assert.Equal(CheckpointFormat.HuggingFace, original.Format);
        if (hfWeightType == "F8E4M3")
        {
            var qb = original.Weights[WeightNames.QBProj(0)];
            Assert.Equal(DType.F8E4M3, qb.DType);
            Assert.NotNull(qb.BlockScales); // kept FP8 with its weight_scale_inv for the FP8 kernels
            Assert.Equal(DType.BF16, original.Weights[WeightNames.Router(1)].DType);
        }
        float[] before = Logits(original, tokens);

        string gguf = dir.File("converted.gguf");
        GgufCheckpointWriter.Write(original, gguf, new GgufWriteOptions { WeightType = DType.F32 });
        using var converted = Checkpoint.Open(gguf);
        Assert.Equal(original.Config with { ModelType = converted.Config.ModelType }, converted.Config);
        var comparison = LogitsComparison.Of(Logits(converted, tokens), Rows(before, config.VocabSize));
        output.WriteLine($"{hfWeightType} HF → F32 GGUF: {comparison}");
        comparison.AssertWithin(SameValuesTolerance, $"{hfWeightType} HF checkpoint converted to F32 GGUF");
    }

    [Fact]
    public void LlamaCppComputesOurLogitsOnAGgufConvertedFromFp8()
    {
        var config = TestModels.DeepSeekV3Style;
        using var dir = new TempDirectory();
        string hf = dir.File("hf-fp8");
        HuggingFaceCheckpointWriter.Write(new RandomCheckpoint(config, seed: 8), hf, new HuggingFaceWriteOptions { WeightType = DType.F8E4M3 });
        int[] tokens = TestModels.Tokens(64, config.VocabSize, seed: 4);
        using var original = Checkpoint.Open(hf);
        float[] ours = Logits(original, tokens);

        string gguf = dir.File("from-fp8.gguf");
        GgufCheckpointWriter.Write(original, gguf, new GgufWriteOptions { WeightType = DType.F32 });
        var comparison = LogitsComparison.Of(ours, LlamaCppOracle.Logits(gguf, tokens));
        output.WriteLine($"FP8 HF (ours) vs llama.cpp on the converted GGUF: {comparison}");
        comparison.AssertWithin(1e-4, "our FP8 checkpoint vs llama.cpp on its GGUF conversion");
    }

    [Fact]
    public void QuantizedConversionStoresExactlyTheQuantizedSourceValues()
    {
        var config = TestModels.DeepSeekV3Style;
        using var dir = new TempDirectory();
        string hf = dir.File("hf");
        var random = new RandomCheckpoint(config, seed: 9);
        HuggingFaceCheckpointWriter.Write(random, hf, new HuggingFaceWriteOptions { WeightType = DType.F8E4M3 });
        using var original = Checkpoint.Open(hf);
        string gguf = dir.File("q8.gguf");
        GgufCheckpointWriter.Write(original, gguf, new GgufWriteOptions { WeightType = DType.Q8_0 });
        using var file = GgufFile.Open(gguf);

        // Experts are stacked, kv_b split per head, norms/router/bias F32: every stored value is Q8_0(source) or the source.
        var adapter = new CheckpointLayoutAdapter(original);
        foreach (var t in ModelSpec.For(config, CheckpointLayout.Gguf))
        {
            var info = file.GetTensorInfo(GgufTensorNames.ToGguf(t.Name));
            float[] source = adapter.Values(t).ReadAll();
            var stored = file.GetTensor(info);
            if (t.KeepsF32)
            {
                Assert.Equal(DType.F32, stored.DType);
                Assert.Equal(source, stored.AsSpan<float>().ToArray());
                continue;
            }
            Assert.Equal(DType.Q8_0, stored.DType);
            Assert.True(BlockQuantizer.Quantize(DType.Q8_0, source).AsSpan().SequenceEqual(stored.AsSpan<byte>()), $"{info.Name} is not Q8_0 of {t.Name}");
        }
        Assert.Equal(7u, file.Metadata.GetUInt32("general.file_type"));
    }

    [Theory]
    [InlineData("deepseek-v3-style")]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void GgufToHuggingFaceAndBackKeepsEveryValue(string modelName)
    {
        var config = TestModels.Get(modelName);
        using var dir = new TempDirectory();
        string gguf = dir.File("model.gguf");
        GgufCheckpointWriter.Write(new RandomCheckpoint(config, seed: 2), gguf, new GgufWriteOptions { WeightType = DType.F32 });
        int[] tokens = TestModels.Tokens(48, config.VocabSize, seed: 6);

        using var fromGguf = Checkpoint.Open(gguf);
        float[] before = Logits(fromGguf, tokens);
        string hf = dir.File("hf");
        HuggingFaceCheckpointWriter.Write(fromGguf, hf, new HuggingFaceWriteOptions { WeightType = DType.F32, MaxShardBytes = 200_000 });
        Assert.True(File.Exists(Path.Combine(hf, SafetensorsDirectory.IndexFileName)), "a checkpoint over MaxShardBytes is sharded with an index");

        using var fromHf = Checkpoint.Open(hf);
        Assert.Equal(fromGguf.Config with { ModelType = fromHf.Config.ModelType }, fromHf.Config);
        // HF layout: one tensor per expert, fused kv_b, Llama's q/k rows back in HF order (halves RoPE).
        if (config.Architecture == ModelArchitecture.DeepSeek)
        {
            Assert.True(fromHf.Weights.Contains(WeightNames.ExpertGate(1, 15)));
            Assert.True(fromHf.Weights.Contains(WeightNames.KvBProj(0)));
        }
        Assert.Null(fromHf.DenseRopeLayout);
        var comparison = LogitsComparison.Of(Logits(fromHf, tokens), Rows(before, config.VocabSize));
        output.WriteLine($"{modelName} GGUF → HF: {comparison}");
        comparison.AssertWithin(SameValuesTolerance, $"{modelName} GGUF converted to an HF directory");

        // And back: the GGUF written from the HF directory holds the original file's tensors bit for bit.
        string again = dir.File("again.gguf");
        GgufCheckpointWriter.Write(fromHf, again, new GgufWriteOptions { WeightType = DType.F32 });
        using var a = GgufFile.Open(gguf);
        using var b = GgufFile.Open(again);
        Assert.Equal(a.TensorNames, b.TensorNames);
        foreach (var name in a.TensorNames)
            Assert.True(a.GetTensor(name).AsSpan<byte>().SequenceEqual(b.GetTensor(name).AsSpan<byte>()), $"tensor {name} changed in the round trip");
    }
}
