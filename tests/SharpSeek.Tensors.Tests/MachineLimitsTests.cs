using SharpSeek.Tensors.Diagnostics;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Tests;

/// <summary>The machine-limit probes `train` and the benchmarks share: they run on every SIMD path and return rates.</summary>
public sealed class MachineLimitsTests
{
    [Fact]
    public void Median_takes_the_middle_or_the_mean_of_the_middle_two()
    {
        Assert.Equal(3, Statistics.Median([5, 1, 3]));
        Assert.Equal(2.5, Statistics.Median([4, 1, 3, 2]));
        Assert.True(double.IsNaN(Statistics.Median([])));
    }

    [Fact]
    public void Probes_return_finite_positive_rates()
    {
        using var pool = new ComputePool(2);
        double gflops = MachineLimits.PeakFmaGflops(pool, iterations: 100_000, repeats: 3);
        Assert.True(double.IsFinite(gflops) && gflops > 0, $"peak {gflops}");
        double gbps = MachineLimits.MeasureReadBandwidth(pool, bytes: 8L << 20, repetitions: 3);
        Assert.True(double.IsFinite(gbps) && gbps > 0, $"bandwidth {gbps}");
    }
}
