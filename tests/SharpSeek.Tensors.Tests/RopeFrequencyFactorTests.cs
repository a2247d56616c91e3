using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Tensors.Tests;

/// <summary>Explicit per-pair frequency divisors (llama3 scaling, GGUF rope_freqs) against a float64 rotation.</summary>
public class RopeFrequencyFactorTests
{
    private static float[] SampleFactors(int pairs)
    {
        // A llama3-like profile: fast pairs untouched, slow pairs divided by 8, a ramp between.
        var f = new float[pairs];
        for (int i = 0; i < pairs; i++) f[i] = i < pairs / 3 ? 1f : i >= 2 * pairs / 3 ? 8f : 1f + 7f * (i - pairs / 3) / (pairs / 3f);
        return f;
    }

    [Theory]
    [InlineData(RopeLayout.Interleaved)]
    [InlineData(RopeLayout.Halves)]
    public void RotationMatchesFloat64(RopeLayout layout)
    {
        const int dims = 64;
        const double theta = 500000;
        float[] factors = SampleFactors(dims / 2);
        var table = new RopeTable(dims, 5000, (float)theta, null, layout, factors);
        var rng = new Random(3);
        foreach (int pos in new[] { 0, 1, 63, 1000, 4999 })
        {
            var x = GemmTests.RandomArray(rng, dims);
            var got = (float[])x.Clone();
            table.Apply(got, pos);
            for (int i = 0; i < dims / 2; i++)
            {
                double ang = pos * Math.Pow(theta, -2.0 * i / dims) / factors[i];
                int ia = layout == RopeLayout.Interleaved ? 2 * i : i, ib = layout == RopeLayout.Interleaved ? 2 * i + 1 : i + dims / 2;
                double wa = x[ia] * Math.Cos(ang) - x[ib] * Math.Sin(ang), wb = x[ia] * Math.Sin(ang) + x[ib] * Math.Cos(ang);
                Assert.Equal(wa, got[ia], 2e-5 * (1 + pos / 1000.0));
                Assert.Equal(wb, got[ib], 2e-5 * (1 + pos / 1000.0));
            }
        }
    }

    [Fact]
    public void UnitFactorsLeaveTheTableUnchangedAndOthersSlowTheirPair()
    {
        var plain = new RopeTable(16, 8, 10000f);
        var unit = new RopeTable(16, 8, 10000f, frequencyFactors: Enumerable.Repeat(1f, 8).ToArray());
        float[] factors = [1, 1, 2, 4, 8, 8, 8, 8];
        var scaled = new RopeTable(16, 8, 10000f, frequencyFactors: factors);
        // Position 1 with x = (1, 0) per pair: the angle read back is the pair's frequency.
        float[] Angles(RopeTable t) { var v = new float[16]; for (int i = 0; i < 8; i++) v[2 * i] = 1; t.Apply(v, 1); return Enumerable.Range(0, 8).Select(i => MathF.Atan2(v[2 * i + 1], v[2 * i])).ToArray(); }
        var a = Angles(plain);
        Assert.Equal(a, Angles(unit));
        var b = Angles(scaled);
        for (int i = 0; i < 8; i++) Assert.Equal(a[i] / factors[i], b[i], 1e-6);
    }

    [Fact]
    public void FactorsCombineWithYarnAsDividedBaseFrequencies()
    {
        // llama.cpp divides θ^(-2i/d) by the factor, then applies YaRN's ramp (by pair index) to the result.
        var yarn = new RopeScaling(Factor: 4, OriginalContext: 64);
        float[] factors = [1, 2, 3, 4];
        var both = new RopeTable(8, 2, 10000f, yarn, RopeLayout.Interleaved, factors);
        var yarnOnly = new RopeTable(8, 2, 10000f, yarn);
        float[] Angles(RopeTable t) { var v = new float[8]; for (int i = 0; i < 4; i++) v[2 * i] = 1; t.Apply(v, 1); return Enumerable.Range(0, 4).Select(i => MathF.Atan2(v[2 * i + 1], v[2 * i])).ToArray(); }
        var a = Angles(yarnOnly);
        var b = Angles(both);
        for (int i = 0; i < 4; i++) Assert.Equal(a[i] / factors[i], b[i], 1e-6);
    }

    [Fact]
    public void BadFactorsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new RopeTable(8, 4, 10000f, frequencyFactors: new float[3] { 1, 1, 1 }));
        Assert.Throws<ArgumentException>(() => new RopeTable(8, 4, 10000f, frequencyFactors: new float[] { 1, 0, 1, 1 }));
        Assert.Throws<ArgumentException>(() => new RopeTable(8, 4, 10000f, frequencyFactors: new float[] { 1, float.NaN, 1, 1 }));
        Assert.Throws<ArgumentException>(() => new RopeTable(8, 4, 10000f, frequencyFactors: new float[] { 1, -2, 1, 1 }));
    }
}
