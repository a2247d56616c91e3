using SharpSeek.Checkpoints;
using SharpSeek.Model;
using Xunit.Abstractions;

namespace SharpSeek.Model.Tests;

/// <summary>Llama 3.1's RoPE frequency scaling (R1-Distill-Llama): the divisors, and the forward pass using them.</summary>
public class Llama3RopeScalingTests(ITestOutputHelper output)
{
    /// <summary>Meta's reference in float64, in its own form: the scaled frequency rather than the divisor.</summary>
    private static double ScaledFrequency(double freq, double factor, double low, double high, double originalContext)
    {
        double wavelength = 2 * Math.PI / freq;
        if (wavelength < originalContext / high) return freq;
        if (wavelength > originalContext / low) return freq / factor;
        double smooth = (originalContext / wavelength - low) / (high - low);
        return (1 - smooth) * freq / factor + smooth * freq;
    }

    [Fact]
    public void SmallCaseMatchesHandComputedDivisors()
    {
        // d = 16, θ = 500000, factor 8, low 1, high 4, original context 64: wavelengths 6.28, 32.4, 167, … so pair 0 is
        // kept (< 16), pair 1 is on the ramp (smooth = (64/32.40 − 1)/3 = 0.3251 → 1/(0.6749/8 + 0.3251) = 2.4423), the rest are /8.
        double[] got = RopeFrequencyFactors.Llama3(16, 500000, 8, 1, 4, 64);
        double[] expected = [1, 2.4422593898300864, 8, 8, 8, 8, 8, 8];
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], got[i], 1e-12);
    }

    [Fact]
    public void DistillLlama8BDivisorsFollowMetasFormula()
    {
        var c = ModelPresets.DeepSeekR1DistillLlama8B;
        var rs = c.RopeScaling!;
        double[] got = RopeFrequencyFactors.Llama3(c.RopeDims, c.RopeTheta, rs.Factor, rs.LowFreqFactor, rs.HighFreqFactor, rs.OriginalMaxPositionEmbeddings);
        Assert.Equal(64, got.Length);
        for (int i = 0; i < got.Length; i++)
        {
            double freq = Math.Pow(c.RopeTheta, -2.0 * i / c.RopeDims);
            Assert.Equal(freq / ScaledFrequency(freq, 8, 1, 4, 8192), got[i], 1e-12);
        }
        // Llama 3.1 at θ = 500000, d = 128: 29 pairs kept, 6 on the ramp (pairs 29–34), 29 slowed by 8.
        Assert.Equal(29, got.Count(f => f == 1));
        Assert.Equal(29, got.Count(f => f == 8));
        Assert.Equal(1.207483871283662, got[29], 1e-12);
        Assert.Equal(5.257326588708467, got[34], 1e-12);
        for (int i = 1; i < got.Length; i++) Assert.True(got[i] >= got[i - 1], "slower pairs are never scaled less");

        float[] fromConfig = RopeFrequencyFactors.Of(c)!;
        Assert.Equal(got.Select(f => (float)f), fromConfig);
        Assert.Null(RopeFrequencyFactors.Of(ModelPresets.TinyLlama));
        Assert.Null(RopeFrequencyFactors.Of(ModelPresets.DeepSeekV3)); // YaRN is applied by the table itself
    }

    [Fact]
    public void ExplicitFactorsWinOverTheParameters()
    {
        var c = ModelPresets.TinyLlama with
        {
            RopeScaling = new RopeScalingConfig { Type = "llama3", Factor = 8, OriginalMaxPositionEmbeddings = 64, FrequencyFactors = [1f, 2f, 3f, 4f] },
        };
        Assert.Equal([1f, 2f, 3f, 4f], RopeFrequencyFactors.Of(c)!);
        var wrongCount = c with { RopeScaling = c.RopeScaling with { FrequencyFactors = [1f, 2f] } };
        Assert.Equal("rope_scaling.frequency_factors", Assert.Throws<ModelConfigException>(wrongCount.Validate).Field);
        var notPositive = c with { RopeScaling = c.RopeScaling with { FrequencyFactors = [1f, 0f, 1f, 1f] } };
        Assert.Equal("rope_scaling.frequency_factors", Assert.Throws<ModelConfigException>(notPositive.Validate).Field);
        // Equality compares the factors by value.
        Assert.Equal(c, c with { RopeScaling = c.RopeScaling with { FrequencyFactors = [1f, 2f, 3f, 4f] } });
        Assert.NotEqual(c, c with { RopeScaling = c.RopeScaling with { FrequencyFactors = [1f, 2f, 3f, 5f] } });
    }

    [Fact]
    public void Llama3ScaledModelRunsAndTheScalingReachesAttention()
    {
        // θ = 10000, head 8: wavelengths 6.3, 63, 628, 6283; with an original context of 64 pair 0 is kept, pair 1 barely
        // ramped, pairs 2–3 slowed by 8, so positions beyond 0 rotate differently from plain RoPE.
        var plain = ModelPresets.TinyLlama;
        var scaled = plain with
        {
            RopeScaling = new RopeScalingConfig { Type = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 64 },
        };
        using var weights = RandomWeights.Create(plain, seed: 12);
        using var plainModel = LanguageModel.Create(plain, weights);
        using var scaledModel = LanguageModel.Create(scaled, weights);
        var explicitConfig = scaled with { RopeScaling = scaled.RopeScaling with { FrequencyFactors = RopeFrequencyFactors.Of(scaled) } };
        using var explicitModel = LanguageModel.Create(explicitConfig, weights);
        int[] tokens = ModelRunner.Tokens(48, plain.VocabSize, seed: 4);

        var (p, _) = ModelRunner.Run(plainModel, tokens);
        var (s, _) = ModelRunner.Run(scaledModel, tokens);
        var (e, _) = ModelRunner.Run(explicitModel, tokens);
        int v = plain.VocabSize;
        // Position 0 does not rotate at all; every later one attends through rotated keys.
        Assert.Equal(0, ModelRunner.MaxAbsDiff(p.AsSpan(0, v), s.AsSpan(0, v)));
        double later = ModelRunner.MaxAbsDiff(p.AsSpan(v), s.AsSpan(v));
        output.WriteLine($"llama3 scaling vs plain RoPE, positions 1–47: max |Δlogit| = {later:E2}");
        Assert.True(later > 1e-3, $"llama3 scaling changed the logits by only {later:E2}");
        Assert.Equal(0, ModelRunner.MaxAbsDiff(s, e));
    }
}
