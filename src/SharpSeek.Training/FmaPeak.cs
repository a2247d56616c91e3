using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Training;

/// <summary>
/// The machine's f32 FMA peak, measured (not looked up) so MFU compares against what this machine delivers now:
/// every pool thread runs 16 independent Vector512 FMA chains (enough to cover FMA latency × issue ports), and the
/// median over repeats is taken. 16 lanes × 2 FLOPs per FMA per chain step.
/// </summary>
public static class FmaPeak
{
    public static double MeasureGflops(ComputePool pool, long iterations = 4_000_000, int repeats = 5)
    {
        var body = new Body { Iterations = iterations };
        pool.ForEachThread(pool.ThreadCount, ref body); // tier the method up
        var times = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            pool.ForEachThread(pool.ThreadCount, ref body);
            times[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        double flopsPerIteration = Vector512.IsHardwareAccelerated ? 16 * 16 * 2 : 16 * 8 * 2;
        return iterations * flopsPerIteration * pool.ThreadCount / times[repeats / 2] / 1e9;
    }

    private struct Body : IRangeBody
    {
        public long Iterations;
        public float Sink;

        public void Execute(int start, int end, int worker)
        {
            for (int i = start; i < end; i++) Sink += Vector512.IsHardwareAccelerated ? Chains512(Iterations) : Chains256(Iterations);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains512(long n)
    {
        var m = Vector512.Create(0.9999999f);
        var c = Vector512.Create(1e-8f);
        Vector512<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m;
        Vector512<float> a8 = m, a9 = m, a10 = m, a11 = m, a12 = m, a13 = m, a14 = m, a15 = m;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c);
            a2 = Vector512.FusedMultiplyAdd(a2, m, c); a3 = Vector512.FusedMultiplyAdd(a3, m, c);
            a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c);
            a8 = Vector512.FusedMultiplyAdd(a8, m, c); a9 = Vector512.FusedMultiplyAdd(a9, m, c);
            a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
            a12 = Vector512.FusedMultiplyAdd(a12, m, c); a13 = Vector512.FusedMultiplyAdd(a13, m, c);
            a14 = Vector512.FusedMultiplyAdd(a14, m, c); a15 = Vector512.FusedMultiplyAdd(a15, m, c);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains256(long n)
    {
        var m = Vector256.Create(0.9999999f);
        var c = Vector256.Create(1e-8f);
        Vector256<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m;
        Vector256<float> a8 = m, a9 = m, a10 = m, a11 = m, a12 = m, a13 = m, a14 = m, a15 = m;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c); a1 = Vector256.FusedMultiplyAdd(a1, m, c);
            a2 = Vector256.FusedMultiplyAdd(a2, m, c); a3 = Vector256.FusedMultiplyAdd(a3, m, c);
            a4 = Vector256.FusedMultiplyAdd(a4, m, c); a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c); a7 = Vector256.FusedMultiplyAdd(a7, m, c);
            a8 = Vector256.FusedMultiplyAdd(a8, m, c); a9 = Vector256.FusedMultiplyAdd(a9, m, c);
            a10 = Vector256.FusedMultiplyAdd(a10, m, c); a11 = Vector256.FusedMultiplyAdd(a11, m, c);
            a12 = Vector256.FusedMultiplyAdd(a12, m, c); a13 = Vector256.FusedMultiplyAdd(a13, m, c);
            a14 = Vector256.FusedMultiplyAdd(a14, m, c); a15 = Vector256.FusedMultiplyAdd(a15, m, c);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15);
    }
}
