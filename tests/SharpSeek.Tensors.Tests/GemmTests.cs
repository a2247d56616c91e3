using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Tests;

public class GemmTests
{
    public static TheoryData<int, int, int, bool, bool> Shapes() => new()
    {
        { 1, 1, 1, false, false },
        { 7, 5, 3, false, false },
        { 13, 37, 300, false, true },   // k crosses the 256 packing depth
        { 6 * 64 + 7, 33, 65, true, false },
        { 250, 70, 19, true, true },    // m crosses the 240-row packing block
        { 31, 6 * 512 + 7, 17, false, true }, // n far wider than a panel, odd remainder
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesFloat64Reference_OnEveryKernelPath(int m, int n, int k, bool transA, bool transB)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        int lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2;
        var a = RandomArray(rng, (transA ? k : m) * lda);
        var b = RandomArray(rng, (transB ? n : k) * ldb);
        var c0 = RandomArray(rng, m * ldc);
        const float alpha = 0.75f, beta = -0.5f;

        var want = new double[m * ldc];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < ldc; j++)
            {
                if (j >= n) { want[i * ldc + j] = c0[i * ldc + j]; continue; } // padding columns must be untouched
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)(transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                want[i * ldc + j] = alpha * s + beta * (double)c0[i * ldc + j];
            }

        using var pool = new ComputePool(2);
        foreach (var path in Gemm.SupportedPaths())
        {
            Gemm.ForcedPath = path;
            try
            {
                var c = (float[])c0.Clone();
                Gemm.Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, pool);
                // f32 accumulation of k terms of size ≤ 1: error grows ~ sqrt(k)·eps·|terms|; 1e-5·(1+sqrt k) is loose enough for
                // reordering, tight enough to catch a wrong element.
                double tol = 1e-5 * (1 + Math.Sqrt(k));
                for (int i = 0; i < want.Length; i++)
                    Assert.True(Math.Abs(c[i] - want[i]) <= tol * (1 + Math.Abs(want[i])),
                        $"{path}: element {i} (row {i / ldc}, col {i % ldc}) = {c[i]}, want {want[i]}");
            }
            finally { Gemm.ForcedPath = null; }
        }
    }

    [Fact]
    public void BetaZeroIgnoresNaNInOutput()
    {
        var a = new float[] { 1, 2, 3, 4 };
        var b = new float[] { 1, 0, 0, 1 };
        var c = new float[] { float.NaN, float.NaN, float.NaN, float.NaN };
        Gemm.Multiply(false, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, c);
    }

    [Fact]
    public void RejectsBuffersTooSmallForTheirShape()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 4, 4, 4, 1f, new float[15], 4, new float[16], 4, 0f, new float[16], 4));
        Assert.Contains("A", ex.Message);
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 4, 4, 4, 1f, new float[16], 3, new float[16], 4, 0f, new float[16], 4));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, true, 4, 5, 4, 1f, new float[16], 4, new float[16], 4, 0f, new float[20], 5));
    }

    internal static float[] RandomArray(Random rng, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
