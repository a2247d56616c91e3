using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Tensors.Tests;

/// <summary>RMSNorm, softmax, SiLU·mul, sigmoid against float64 references on odd sizes.</summary>
public class ElementwiseKernelTests
{
    private const int OddSize = 6 * 512 + 7;

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(OddSize)]
    public void RmsNormMatchesFloat64(int n)
    {
        var rng = new Random(n);
        var x = GemmTests.RandomArray(rng, n);
        var w = GemmTests.RandomArray(rng, n);
        var y = new float[n];
        Normalization.RmsNorm(x, w, y, 1e-6f);
        double ss = 0;
        foreach (var v in x) ss += (double)v * v;
        double inv = 1 / Math.Sqrt(ss / n + 1e-6);
        for (int i = 0; i < n; i++) Assert.Equal(x[i] * inv * w[i], y[i], 1e-5 * (1 + Math.Abs(x[i] * inv * w[i])));
    }

    [Fact]
    public void RmsNormRowsNormalisesEachRowAndRejectsShortBuffers()
    {
        var rng = new Random(3);
        var x = GemmTests.RandomArray(rng, 3 * 5);
        var w = GemmTests.RandomArray(rng, 5);
        var y = new float[15];
        Normalization.RmsNormRows(x, w, y, 3, 1e-5f);
        var row = new float[5];
        Normalization.RmsNorm(x.AsSpan(5, 5), w, row, 1e-5f);
        Assert.Equal(row, y.AsSpan(5, 5).ToArray());
        Assert.Throws<ArgumentException>(() => Normalization.RmsNormRows(x, w, y, 4, 1e-5f));
        Assert.Throws<ArgumentException>(() => Normalization.RmsNorm(x, w, y, 1e-5f));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(9)]
    [InlineData(OddSize)]
    public void SoftmaxMatchesFloat64AndSurvivesHugeLogits(int n)
    {
        var rng = new Random(n);
        var x = GemmTests.RandomArray(rng, n);
        for (int i = 0; i < n; i += 7) x[i] *= 1000; // would overflow exp without max subtraction
        var want = new double[n];
        double max = x.Max(), sum = 0;
        for (int i = 0; i < n; i++) sum += want[i] = Math.Exp(x[i] - max);
        Activations.Softmax(x);
        for (int i = 0; i < n; i++) Assert.Equal(want[i] / sum, x[i], 1e-6);
    }

    [Fact]
    public void SoftmaxOfAFullyMaskedRowIsAnError()
    {
        var x = new[] { float.NegativeInfinity, float.NegativeInfinity };
        Assert.Throws<ArgumentException>(() => Activations.Softmax(x));
    }

    [Theory]
    [InlineData(5)]
    [InlineData(OddSize)]
    [InlineData(5000)] // past the stackalloc limit
    public void SiluMulMatchesFloat64(int n)
    {
        var rng = new Random(n);
        var g = GemmTests.RandomArray(rng, n);
        var u = GemmTests.RandomArray(rng, n);
        for (int i = 0; i < n; i++) g[i] *= 8;
        var y = new float[n];
        Activations.SiluMul(g, u, y);
        for (int i = 0; i < n; i++)
        {
            double want = g[i] / (1 + Math.Exp(-(double)g[i])) * u[i];
            Assert.Equal(want, y[i], 1e-5 * (1 + Math.Abs(want)));
        }
        Assert.Throws<ArgumentException>(() => Activations.SiluMul(g, u.AsSpan(1), y));
    }

    [Fact]
    public void SigmoidMatchesFloat64()
    {
        var rng = new Random(11);
        var x = GemmTests.RandomArray(rng, OddSize);
        for (int i = 0; i < x.Length; i++) x[i] *= 20;
        var y = new float[x.Length];
        Activations.Sigmoid(x, y);
        for (int i = 0; i < x.Length; i++) Assert.Equal(1 / (1 + Math.Exp(-(double)x[i])), y[i], 1e-6);
    }
}
