using SharpSeek.Reasoning.Evaluation;
using SharpSeek.Tensors;

namespace SharpSeek.Reasoning.Tests;

/// <summary>pass@k's unbiased estimator against counting every k-subset, and the paired bootstrap's interval.</summary>
public sealed class StatisticsTests
{
    [Theory]
    [InlineData(8, 0)]
    [InlineData(8, 1)]
    [InlineData(8, 3)]
    [InlineData(9, 8)]
    [InlineData(10, 10)]
    public void Pass_at_k_is_the_share_of_k_subsets_holding_a_correct_sample(int n, int c)
    {
        for (int k = 1; k <= n; k++)
        {
            // Enumerate every k-subset of n samples (the first c correct) and count those with a correct one.
            long subsets = 0, hit = 0;
            for (int mask = 0; mask < 1 << n; mask++)
            {
                if (System.Numerics.BitOperations.PopCount((uint)mask) != k) continue;
                subsets++;
                if ((mask & ((1 << c) - 1)) != 0) hit++;
            }
            Assert.Equal((double)hit / subsets, PassAtK.Estimate(n, c, k), 12);
        }
        Assert.Equal((double)c / n, PassAtK.Estimate(n, c, 1), 12);
    }

    [Fact]
    public void The_curve_averages_problems_and_rises_with_k()
    {
        var curve = PassAtK.Curve([(64, 0), (64, 1), (64, 32), (64, 64)], 64);
        Assert.Equal((0 + 1 / 64.0 + 0.5 + 1) / 4, curve[0], 12);
        Assert.Equal(0.75, curve[^1], 12); // every problem with a correct sample is solved at k = n
        for (int k = 1; k < curve.Length; k++) Assert.True(curve[k] >= curve[k - 1], $"pass@{k + 1} below pass@{k}");
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(4, 1, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(4, 5, 1));
    }

    [Fact]
    public void A_constant_shift_has_a_zero_width_interval_and_noise_a_covering_one()
    {
        double[] before = [0, 1, 0.5, 0.25, 1, 0];
        var shifted = before.Select(x => x + 0.1).ToArray();
        var exact = PairedBootstrap.MeanDifference(shifted, before);
        Assert.Equal(0.1, exact.Difference, 12);
        Assert.Equal(0.1, exact.Low, 12);
        Assert.Equal(0.1, exact.High, 12);

        // 400 problems, each solved by the second system with 0.1 more probability: the interval holds the truth,
        // excludes 0, and is the same for the same seed.
        var rng = new DeterministicRandom(3);
        var a = new double[400];
        var b = new double[400];
        for (int i = 0; i < a.Length; i++)
        {
            double p = rng.NextDouble() * 0.8, u = rng.NextDouble();
            b[i] = u < p ? 1 : 0;
            a[i] = u < p + 0.1 ? 1 : 0;
        }
        var ci = PairedBootstrap.MeanDifference(a, b);
        Assert.True(ci.Low <= 0.1 && 0.1 <= ci.High, $"[{ci.Low}, {ci.High}] misses the true 0.1");
        Assert.True(ci.Low > 0, $"[{ci.Low}, {ci.High}] should exclude no difference");
        Assert.True(ci.High - ci.Low < 0.1, $"[{ci.Low}, {ci.High}] is too wide for 400 paired items");
        Assert.Equal(ci, PairedBootstrap.MeanDifference(a, b));
        // A system against itself: no difference, no width.
        var none = PairedBootstrap.MeanDifference(b, b);
        Assert.Equal((0.0, 0.0, 0.0), (none.Difference, none.Low, none.High));
        Assert.Throws<ArgumentException>(() => PairedBootstrap.MeanDifference(a, b.AsSpan(1)));
    }

    [Fact]
    public void Over_seeds_the_interval_covers_the_spread_between_training_runs()
    {
        // Two seeds whose every problem moved +0.2 and −0.2: pooled as one seed's problems the effect looks like
        // exactly 0 ± a little; resampling the seeds too shows that a run can land anywhere in [−0.2, +0.2].
        double[] zero = new double[50];
        double[] up = Enumerable.Repeat(0.2, 50).ToArray(), down = Enumerable.Repeat(-0.2, 50).ToArray();
        var pooled = PairedBootstrap.MeanDifference([.. up, .. down], [.. zero, .. zero]);
        Assert.True(pooled.High - pooled.Low < 0.12, $"[{pooled.Low}, {pooled.High}]");
        var seeds = PairedBootstrap.MeanDifference([up, down], [zero, zero]);
        Assert.Equal(0, seeds.Difference, 12);
        Assert.Equal(-0.2, seeds.Low, 12);
        Assert.Equal(0.2, seeds.High, 12);

        // One seed is the problems-only bootstrap; a constant shift in every seed has no width.
        double[] a = [1, 0, 1, 1, 0.5], b = [0, 0, 1, 0.5, 0.5];
        Assert.Equal(PairedBootstrap.MeanDifference(a, b), PairedBootstrap.MeanDifference([a], [b]));
        var shift = PairedBootstrap.MeanDifference([a.Select(x => x + 0.1).ToArray(), b.Select(x => x + 0.1).ToArray()], [a, b]);
        Assert.Equal((0.1, 0.1, 0.1), (Math.Round(shift.Difference, 12), Math.Round(shift.Low, 12), Math.Round(shift.High, 12)));

        Assert.Throws<ArgumentException>(() => PairedBootstrap.MeanDifference([a, b], [b]));
        Assert.Throws<ArgumentException>(() => PairedBootstrap.MeanDifference([a, b[1..]], [b, b]));
    }
}
