using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Tensors.Tests;

public class SamplerTests
{
    // Float64 reference: the kept set and the renormalised probabilities, straight from the definitions.
    private static Dictionary<int, double> ReferenceDistribution(float[] logits, SamplingOptions o)
    {
        var p = logits.Select(l => Math.Exp(l / (double)o.Temperature)).ToArray();
        double z = p.Sum();
        var order = Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).ThenBy(i => i).ToList();
        if (o.TopK > 0) order = order.Take(o.TopK).ToList();
        var kept = new List<int>();
        double mass = 0;
        foreach (int i in order) { kept.Add(i); mass += p[i] / z; if (mass >= o.TopP) break; }
        double keptMass = kept.Sum(i => p[i]);
        return kept.ToDictionary(i => i, i => p[i] / keptMass);
    }

    public static TheoryData<float, int, float> Settings() => new()
    {
        { 1f, 0, 1f }, { 0.7f, 0, 0.9f }, { 1.3f, 5, 1f }, { 1f, 40, 0.5f }, { 0.5f, 0, 0.99f },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void EmpiricalFrequenciesMatchTheReferenceDistribution(float temperature, int topK, float topP)
    {
        var rng = new Random(7);
        var logits = Enumerable.Range(0, 501).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        var opts = new SamplingOptions(temperature, topK, topP, Seed: 42);
        var want = ReferenceDistribution(logits, opts);
        var sampler = new Sampler(logits.Length, opts);
        const int draws = 8000;
        var counts = new Dictionary<int, int>();
        for (int i = 0; i < draws; i++)
        {
            int t = sampler.Sample(logits);
            Assert.True(want.ContainsKey(t), $"token {t} is outside the kept set");
            counts[t] = counts.GetValueOrDefault(t) + 1;
        }
        // Total variation distance between empirical and reference: ~sqrt(kept/draws) expected noise.
        double tv = 0.5 * want.Sum(kv => Math.Abs(counts.GetValueOrDefault(kv.Key) / (double)draws - kv.Value));
        Assert.True(tv < 0.02 + 1.2 * Math.Sqrt(want.Count / (double)draws) / 2, $"total variation {tv:F4} over {want.Count} kept tokens");
    }

    [Fact]
    public void UniformDrawWalksTheKeptSetInProbabilityOrder()
    {
        var logits = new[] { 0f, 2f, 1f, -5f };
        var s = new Sampler(4, new SamplingOptions(1f, 0, 0.8f));
        // p = [0.0900, 0.6649, 0.2446, 0.0006]: token 1 alone (0.665) is short of 0.8, so {1, 2} are kept (0.9095),
        // and a uniform u picks 1 while u·0.9095 < 0.6649, i.e. u < 0.731.
        Assert.Equal(1, s.Sample(logits, 0.0));
        Assert.Equal(1, s.Sample(logits, 0.72));
        Assert.Equal(2, s.Sample(logits, 0.74));
        Assert.Equal(2, s.Sample(logits, 0.999));
    }

    [Fact]
    public void ZeroTemperatureIsGreedyAndSeedsReproduce()
    {
        var logits = new[] { 0.1f, 3f, 2.9f };
        Assert.Equal(1, new Sampler(3, new SamplingOptions(0f)).Sample(logits));
        var a = new Sampler(3, new SamplingOptions(1f, Seed: 9));
        var b = new Sampler(3, new SamplingOptions(1f, Seed: 9));
        for (int i = 0; i < 50; i++) Assert.Equal(a.Sample(logits), b.Sample(logits));
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(3, new SamplingOptions(-1f)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(3, new SamplingOptions(1f, TopP: 0f)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sampler(3, new SamplingOptions(1f, TopK: -2)));
        Assert.Throws<ArgumentException>(() => new Sampler(3, new SamplingOptions()).Sample(new float[4]));
    }
}
