using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Tensors.Tests;

/// <summary>RoPE and YaRN against a float64 transcription of the RoPE and YaRN formulas (RoFormer; YaRN, Peng et al. 2023).</summary>
public class RopeTests
{
    // Per pair i: the rotation frequency after YaRN (factor s, original context L0, beta_fast, beta_slow).
    private static double ReferenceFrequency(int i, int dims, double theta, RopeScaling? y)
    {
        double f = Math.Pow(theta, -2.0 * i / dims);
        if (y is not { IsYarn: true }) return f;
        // Pair index at which the wavelength 2π/f fits `turns` rotations in the original context.
        double Boundary(double turns) => dims * Math.Log(y.OriginalContext / (turns * 2 * Math.PI)) / (2 * Math.Log(theta));
        double lo = Math.Max(Math.Floor(Boundary(y.BetaFast)), 0), hi = Math.Min(Math.Ceiling(Boundary(y.BetaSlow)), dims - 1);
        if (hi == lo) hi += 0.001;
        double interpolated = Math.Min(1, Math.Max(0, (i - lo) / (hi - lo))); // 0 → high frequency kept, 1 → divided by s
        return f * (1 - interpolated) + f / y.Factor * interpolated;
    }

    public static TheoryData<RopeLayout, bool> Cases() => new()
    {
        { RopeLayout.Interleaved, false }, { RopeLayout.Interleaved, true }, { RopeLayout.Halves, false }, { RopeLayout.Halves, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void RotationMatchesFloat64(RopeLayout layout, bool yarn)
    {
        const int dims = 64;
        var scaling = yarn ? new RopeScaling(Factor: 40, OriginalContext: 4096, BetaFast: 32, BetaSlow: 1, Mscale: 1, MscaleAllDim: 1) : null;
        var table = new RopeTable(dims, 5000, 10000f, scaling, layout);
        var rng = new Random(5);
        foreach (int pos in new[] { 0, 1, 17, 4999 })
        {
            var x = GemmTests.RandomArray(rng, dims);
            var got = (float[])x.Clone();
            table.Apply(got, pos);
            for (int i = 0; i < dims / 2; i++)
            {
                double ang = pos * ReferenceFrequency(i, dims, 10000, scaling);
                int ia = layout == RopeLayout.Interleaved ? 2 * i : i, ib = layout == RopeLayout.Interleaved ? 2 * i + 1 : i + dims / 2;
                double wa = x[ia] * Math.Cos(ang) - x[ib] * Math.Sin(ang), wb = x[ia] * Math.Sin(ang) + x[ib] * Math.Cos(ang);
                Assert.Equal(wa, got[ia], 2e-5 * (1 + pos / 1000.0));
                Assert.Equal(wb, got[ib], 2e-5 * (1 + pos / 1000.0));
            }
        }
    }

    [Fact]
    public void YarnKeepsHighFrequenciesAndInterpolatesLowOnes()
    {
        var scaling = new RopeScaling(Factor: 40, OriginalContext: 4096);
        var plain = new RopeTable(64, 2, 10000f);
        var yarn = new RopeTable(64, 2, 10000f, scaling);
        // Position 1: the rotation angle equals the frequency. Pair 0 (fastest) is untouched, the slowest pair is /40.
        float[] Angles(RopeTable t) { var v = new float[64]; for (int i = 0; i < 32; i++) v[2 * i] = 1; t.Apply(v, 1); return Enumerable.Range(0, 32).Select(i => MathF.Atan2(v[2 * i + 1], v[2 * i])).ToArray(); }
        var a = Angles(plain); var b = Angles(yarn);
        Assert.Equal(a[0], b[0], 1e-6);
        Assert.Equal(a[31] / 40, b[31], 1e-6);
        Assert.True(b[20] < a[20] && b[20] > a[20] / 40);
    }

    [Fact]
    public void YarnMscaleFollowsTheFormula()
    {
        Assert.Equal(1f, RopeScaling.YarnMscale(1f, 1f));
        Assert.Equal(0.1f * MathF.Log(40f) + 1f, RopeScaling.YarnMscale(40f, 1f), 6);
    }

    [Fact]
    public void BadArgumentsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new RopeTable(63, 10, 10000f));
        var t = new RopeTable(8, 4, 10000f);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Apply(new float[8], 4));
        Assert.Throws<ArgumentException>(() => t.Apply(new float[6], 0));
    }
}
