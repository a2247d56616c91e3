using System.Diagnostics;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Threading;
using SharpSeek.Tensors.Diagnostics;

namespace SharpSeek.Benchmarks;

/// <summary>f32 GEMM GFLOP/s (C = A·B, square), median over repeats after a warm-up.</summary>
public static class GemmBenchmark
{
    public static double Gflops(ComputePool pool, int size, int repeats = 5, bool transB = false)
    {
        var rng = new Random(1);
        var a = new float[size * size];
        var b = new float[size * size];
        var c = new float[size * size];
        for (int i = 0; i < a.Length; i++) { a[i] = (float)rng.NextDouble() - 0.5f; b[i] = (float)rng.NextDouble() - 0.5f; }
        Gemm.Multiply(false, transB, size, size, size, 1f, a, size, b, size, 0f, c, size, pool);
        var times = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Gemm.Multiply(false, transB, size, size, size, 1f, a, size, b, size, 0f, c, size, pool);
            times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return 2.0 * size * size * (double)size / Statistics.Median(times) / 1e9;
    }
}
