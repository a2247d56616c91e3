using SharpSeek.Checkpoints.Gguf;
using SharpSeek.Model;
using SharpSeek.Tensors;
using Xunit.Abstractions;

namespace SharpSeek.Checkpoints.Tests;

/// <summary>
/// Our forward pass against llama.cpp (node-llama-cpp's CPU prebuilt, F32 KV cache) on random-weight GGUF files that
/// our writer produced: the file loads in llama.cpp (names, shapes, metadata as its loader expects) and both engines
/// compute the same logits at every one of 64 positions, evaluated in one call per file.
/// </summary>
/// <remarks>
/// Tolerances, relative to each row's largest logit:
/// <list type="bullet">
/// <item>F32 weights: 1e-4. Both engines compute in F32 and differ only in summation order (≈1e-7 per dot); measured
/// agreement is 2e-6, so 1e-4 leaves 50× headroom while any modelling difference (a YaRN factor, a norm, a rotary
/// pairing, a routing rule) moves logits by 1e-2 or more.</item>
/// <item>Q8_0 weights: 5e-2. Both engines quantize each activation row to Q8_0 blocks (int8, scale = amax/127,
/// round-half-even) before a quantized matmul, so the integer dot products agree; but an activation that lands within
/// float rounding of a .5 boundary rounds one quantum apart, and that 1/127 step propagates (and can flip a later
/// rounding). Measured worst case 1.6e-2. The same argmax is still required at every position. This holds when the
/// activation scales are rounded to fp16 as ggml stores them (block_q8_0.d); with full-precision f32 scales the two
/// engines' roundings decorrelate and MoE routing flips follow. The 27-layer no-q-LoRA model is checked in F32 only: over
/// 27 random layers even rare rounding flips compound into routing flips.</item>
/// </list>
/// </remarks>
public sealed class LlamaCppParityTests(ITestOutputHelper output)
{
    private const int SequenceLength = 64;
    private const double F32Tolerance = 1e-4;
    private const double Q8Tolerance = 5e-2;

    public static TheoryData<string, string, bool> Cases => new()
    {
        { "deepseek-v3-style", "F32", false },
        { "deepseek-v3-style", "Q8_0", false },
        { "deepseek-v3-style", "F32", true },   // legacy attn_kv_b layout: llama.cpp runs plain multi-head attention
        { "deepseek-v2-lite-style", "F32", false }, // 27 layers without q-LoRA: llama.cpp's "lite" path
        { "deepseek-v2-style", "F32", false },
        { "deepseek-v2-style", "Q8_0", false },
        { "qwen2", "F32", false },
        { "qwen2", "Q8_0", false },
        { "llama", "F32", false },
        { "llama", "Q8_0", false },
        { "llama-llama3-rope", "F32", false }, // rope_freqs.weight: llama3 frequency divisors
        { "llama-llama3-rope", "Q8_0", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsMatchLlamaCpp(string modelName, string weightType, bool legacyMla)
    {
        var config = TestModels.Get(modelName);
        var dtype = Enum.Parse<DType>(weightType);
        using var dir = new TempDirectory();
        string path = dir.File($"{modelName}-{weightType}{(legacyMla ? "-legacy" : "")}.gguf");
        GgufCheckpointWriter.Write(new RandomCheckpoint(config, seed: 11), path, new GgufWriteOptions { WeightType = dtype, LegacyMlaLayout = legacyMla });
        int[] tokens = TestModels.Tokens(SequenceLength, config.VocabSize);

        float[][] reference = LlamaCppOracle.Logits(path, tokens);

        using var checkpoint = Checkpoint.Open(path);
        var read = checkpoint.Config;
        if (read.RopeScaling is { FrequencyFactors: { } stored })
        {
            // A GGUF file carries llama3 scaling as the divisors themselves (rope_freqs.weight).
            Assert.Equal(RopeFrequencyFactors.Of(config)!, stored);
            read = read with { RopeScaling = read.RopeScaling with { FrequencyFactors = null } };
        }
        Assert.Equal(config with { ModelType = checkpoint.Config.ModelType }, read);
        double tolerance = dtype == DType.F32 ? F32Tolerance : Q8Tolerance;
        var modes = config.Architecture == ModelArchitecture.DeepSeek && dtype == DType.F32
            ? new[] { AttentionMode.Absorbed, AttentionMode.Naive }
            : [AttentionMode.Absorbed];
        foreach (var mode in modes)
        {
            using var model = checkpoint.CreateModel(new ModelOptions { Attention = mode });
            var comparison = LogitsComparison.Of(TestModels.RunAllPositions(model, tokens), reference);
            output.WriteLine($"{Path.GetFileName(path)} {mode}: {comparison}");
            comparison.AssertWithin(tolerance, $"{Path.GetFileName(path)} ({mode} attention) vs llama.cpp");
        }
    }
}
