using SharpSeek.Checkpoints.Gguf;
using SharpSeek.Checkpoints.HuggingFace;
using SharpSeek.Formats;
using SharpSeek.Formats.Gguf;
using SharpSeek.Model;
using SharpSeek.Tensors;
using Xunit.Abstractions;

namespace SharpSeek.Checkpoints.Tests;

/// <summary>
/// llama3 RoPE scaling through the checkpoint formats: HF config.json's rope_scaling ↔ GGUF's rope_freqs.weight, with
/// the logits kept across conversions (llama.cpp's reading of the same files is in <see cref="LlamaCppParityTests"/>).
/// </summary>
public sealed class Llama3RopeCheckpointTests(ITestOutputHelper output)
{
    // Same weights and factors in F32 both ways: only summation order may differ.
    private const double SameValuesTolerance = 1e-5;

    private static float[][] Rows(float[] flat, int vocab)
        => Enumerable.Range(0, flat.Length / vocab).Select(p => flat.AsSpan(p * vocab, vocab).ToArray()).ToArray();

    private static float[] Logits(Checkpoint checkpoint, int[] tokens)
    {
        using var model = checkpoint.CreateModel();
        return TestModels.RunAllPositions(model, tokens);
    }

    [Fact]
    public void HuggingFaceToGgufToHuggingFaceKeepsTheScalingAndTheLogits()
    {
        var config = TestModels.LlamaLlama3Rope;
        using var dir = new TempDirectory();
        string hf = dir.File("hf");
        HuggingFaceCheckpointWriter.Write(new RandomCheckpoint(config, seed: 13), hf, new HuggingFaceWriteOptions { WeightType = DType.F32 });
        int[] tokens = TestModels.Tokens(64, config.VocabSize, seed: 2);

        using var original = Checkpoint.Open(hf);
        Assert.Equal(config, original.Config);
        float[] before = Logits(original, tokens);

        // The scaling must matter over these positions, or this test would not see it go missing.
        string plainHf = dir.File("hf-plain");
        HuggingFaceCheckpointWriter.Write(new RandomCheckpoint(config with { RopeScaling = null }, seed: 13), plainHf, new HuggingFaceWriteOptions { WeightType = DType.F32 });
        using (var plain = Checkpoint.Open(plainHf))
        {
            var unscaledComparison = LogitsComparison.Of(Logits(plain, tokens), Rows(before, config.VocabSize));
            output.WriteLine($"plain RoPE vs llama3 scaling on the same weights: {unscaledComparison}");
            Assert.True(unscaledComparison.MaxRelative > 1e-2, $"llama3 scaling moved the logits by only {unscaledComparison}");
        }

        string gguf = dir.File("llama3.gguf");
        GgufCheckpointWriter.Write(original, gguf, new GgufWriteOptions { WeightType = DType.F32 });
        using (var file = GgufFile.Open(gguf))
        {
            var stored = file.GetTensor(GgufModelMetadata.RopeFrequenciesTensor);
            Assert.Equal(DType.F32, stored.DType);
            Assert.Equal(RopeFrequencyFactors.Of(config)!, stored.AsSpan<float>().ToArray());
            Assert.False(file.Metadata.ContainsKey("llama.rope.scaling.type")); // llama.cpp would reject "llama3" there
        }
        using var converted = Checkpoint.Open(gguf);
        // The llama3 parameters are recovered from the divisors; the divisors themselves are what the model runs.
        Assert.Equal(config.RopeScaling, converted.Config.RopeScaling! with { FrequencyFactors = null });
        var toGguf = LogitsComparison.Of(Logits(converted, tokens), Rows(before, config.VocabSize));
        output.WriteLine($"HF → GGUF: {toGguf}");
        toGguf.AssertWithin(SameValuesTolerance, "llama3-scaled HF checkpoint converted to GGUF");

        string back = dir.File("hf-back");
        HuggingFaceCheckpointWriter.Write(converted, back, new HuggingFaceWriteOptions { WeightType = DType.F32 });
        using var fromHf = Checkpoint.Open(back);
        Assert.Equal(config, fromHf.Config);
        var roundTrip = LogitsComparison.Of(Logits(fromHf, tokens), Rows(before, config.VocabSize));
        output.WriteLine($"HF → GGUF → HF: {roundTrip}");
        roundTrip.AssertWithin(SameValuesTolerance, "llama3-scaled checkpoint after HF → GGUF → HF");
    }

    [Fact]
    public void GgufFactorsThatNoLlama3ParametersDescribeRunAsStoredButCannotBecomeConfigJson()
    {
        var config = TestModels.LlamaLlama3Rope;
        using var dir = new TempDirectory();
        string gguf = dir.File("llama3.gguf");
        GgufCheckpointWriter.Write(new RandomCheckpoint(config, seed: 4), gguf, new GgufWriteOptions { WeightType = DType.F32 });
        float[] custom = [1, 1.5f, 2, 3, 5, 7, 8, 8];
        string edited = Rewrite(gguf, dir.File("custom.gguf"), _ => Tensor.FromArray(custom, custom.Length));

        using var checkpoint = Checkpoint.Open(edited);
        Assert.Equal(custom, checkpoint.Config.RopeScaling!.FrequencyFactors!);
        using (var model = checkpoint.CreateModel()) Assert.NotNull(model);
        var e = Assert.Throws<NotSupportedException>(() => HuggingFaceCheckpointWriter.Write(checkpoint, dir.File("hf"), new HuggingFaceWriteOptions { WeightType = DType.F32 }));
        Assert.Contains("frequency factors", e.Message);
    }

    [Fact]
    public void MisshapenRopeFrequenciesNameFileAndTensor()
    {
        using var dir = new TempDirectory();
        string gguf = dir.File("llama3.gguf");
        GgufCheckpointWriter.Write(new RandomCheckpoint(TestModels.LlamaLlama3Rope, seed: 4), gguf, new GgufWriteOptions { WeightType = DType.F32 });
        string bad = Rewrite(gguf, dir.File("bad.gguf"), _ => Tensor.FromArray(new float[] { 1, 2, 3 }, 3));
        var e = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(bad));
        Assert.Equal(bad, e.FilePath);
        Assert.Contains("rope_freqs.weight", e.Message);
        Assert.Contains("[8]", e.Message);

        string zero = Rewrite(gguf, dir.File("zero.gguf"), _ => Tensor.FromArray(new float[8], 8));
        var z = Assert.Throws<InvalidModelFileException>(() => Checkpoint.Open(zero));
        Assert.Contains("rope_freqs.weight", z.Message);
    }

    [Fact]
    public void Llama3ScalingIsOnlyWrittenForLlama()
    {
        var qwen = TestModels.Qwen2 with { RopeScaling = TestModels.LlamaLlama3Rope.RopeScaling };
        Assert.Throws<NotSupportedException>(() => GgufModelMetadata.Write(qwen, 0));
        Assert.DoesNotContain(GgufModelMetadata.Write(TestModels.LlamaLlama3Rope, 0), kv => kv.Key.Contains("rope.scaling", StringComparison.Ordinal));
    }

    /// <summary>A copy of <paramref name="source"/> with rope_freqs.weight replaced by <paramref name="ropeFreqs"/>.</summary>
    private static string Rewrite(string source, string target, Func<GgufTensorInfo, Tensor> ropeFreqs)
    {
        using var file = GgufFile.Open(source);
        var writer = new GgufWriter().AddMetadata(file.Metadata);
        var made = new List<Tensor>();
        foreach (var info in file.Tensors)
        {
            if (info.Name != GgufModelMetadata.RopeFrequenciesTensor) writer.AddTensor(info.Name, file.GetTensor(info));
            else
            {
                var t = ropeFreqs(info);
                made.Add(t);
                writer.AddTensor(info.Name, t);
            }
        }
        writer.Write(target);
        foreach (var t in made) t.Dispose();
        return target;
    }
}
