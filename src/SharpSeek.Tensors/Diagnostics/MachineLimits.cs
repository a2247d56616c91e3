using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Diagnostics;

/// <summary>
/// This machine's limits, measured (not looked up) in the same process as the work they judge, so `train`'s MFU and
/// the benchmarks' "achieved next to the limit" lines divide by the same numbers: peak f32 FMA throughput
/// (independent FMA chains, enough to cover latency × ports) and DRAM read bandwidth (vector sums over 1 GiB).
/// </summary>
public static unsafe class MachineLimits
{
    /// <summary>Peak f32 GFLOP/s over <paramref name="pool"/>'s threads (each FMA = 2 flops per lane); the median of the repeats.</summary>
    public static double PeakFmaGflops(ComputePool pool, long iterations = 20_000_000, int repeats = 7)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var body = new FmaBody { Iterations = iterations };
        pool.ForEachThread(pool.ThreadCount, ref body); // warm-up (tiering)
        var times = new double[Math.Max(1, repeats)];
        for (int r = 0; r < times.Length; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            pool.ForEachThread(pool.ThreadCount, ref body);
            times[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        double flopsPerIter = Vector512.IsHardwareAccelerated ? 16 * 16 * 2 : Vector256.IsHardwareAccelerated ? 16 * 8 * 2 : 16 * 2;
        return iterations * flopsPerIter * pool.ThreadCount / Statistics.Median(times) / 1e9;
    }

    /// <summary>
    /// Read bandwidth in GB/s: every pool thread sums its share of a <paramref name="bytes"/> buffer with vector loads.
    /// Timed after at least a second of warm-up: the loop starts as tier-0 code, and timing before the runtime promotes
    /// it measures the JIT.
    /// </summary>
    public static double MeasureReadBandwidth(ComputePool pool, long bytes = 1L << 30, int repetitions = 11)
    {
        ArgumentNullException.ThrowIfNull(pool);
        using var buffer = new NativeBuffer(bytes);
        // Touch every page with non-zero data so the reads hit real memory rather than the shared zero page.
        for (long offset = 0; offset < bytes; offset += int.MaxValue)
            new Span<byte>((byte*)buffer.Pointer + offset, (int)Math.Min(bytes - offset, int.MaxValue)).Fill(1);
        var body = new SumBody { Data = (byte*)buffer.Pointer, Chunks = (int)(bytes / SumBody.ChunkBytes) };
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < 3 || Stopwatch.GetElapsedTime(t0).TotalSeconds < 1.0; i++) pool.ForEachThread(body.Chunks, ref body);
        var rates = new double[Math.Max(1, repetitions)];
        for (int r = 0; r < rates.Length; r++)
        {
            long start = Stopwatch.GetTimestamp();
            pool.ForEachThread(body.Chunks, ref body);
            rates[r] = body.Chunks * SumBody.ChunkBytes / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
        }
        return Statistics.Median(rates);
    }

    /// <summary>The unit <see cref="ReadOnce"/> reads in; a buffer's readable bytes are its whole chunks.</summary>
    public const long ReadChunkBytes = SumBody.ChunkBytes;

    /// <summary>
    /// One pass of the bandwidth probe over <paramref name="buffer"/>'s whole chunks, for benchmarks that time a plain
    /// read in alternation with the kernel they judge.
    /// </summary>
    public static void ReadOnce(ComputePool pool, NativeBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(buffer);
        var body = new SumBody { Data = buffer.Pointer, Chunks = (int)(buffer.Length / SumBody.ChunkBytes) };
        pool.ForEachThread(body.Chunks, ref body);
    }

    private struct SumBody : IRangeBody
    {
        public const long ChunkBytes = 1 << 20;
        public byte* Data;
        public int Chunks;
        public float Sink;

        public void Execute(int start, int end, int worker)
        {
            float* p = (float*)(Data + start * ChunkBytes), e = (float*)(Data + end * ChunkBytes);
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (; p < e; p += 64)
                {
                    a0 += Vector512.Load(p);
                    a1 += Vector512.Load(p + 16);
                    a2 += Vector512.Load(p + 32);
                    a3 += Vector512.Load(p + 48);
                }
                Sink += Vector512.Sum((a0 + a1) + (a2 + a3));
            }
            else
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (; p < e; p += 32)
                {
                    a0 += Vector256.Load(p);
                    a1 += Vector256.Load(p + 8);
                    a2 += Vector256.Load(p + 16);
                    a3 += Vector256.Load(p + 24);
                }
                Sink += Vector256.Sum((a0 + a1) + (a2 + a3));
            }
        }
    }

    private struct FmaBody : IRangeBody
    {
        public long Iterations;
        public float Sink;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int start, int end, int worker)
        {
            for (int i = start; i < end; i++) Sink += Vector512.IsHardwareAccelerated ? Chains512(Iterations) : Vector256.IsHardwareAccelerated ? Chains256(Iterations) : ChainsScalar(Iterations);
        }
    }

    // 16 independent accumulators: FMA latency (4 cycles) × 2 FMA ports = 8 in flight, 16 leaves slack.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains512(long n)
    {
        var x = Vector512.Create(0.999999f); var y = Vector512.Create(1e-7f);
        Vector512<float> a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x, a12 = x, a13 = x, a14 = x, a15 = x;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y); a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y); a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y); a11 = Vector512.FusedMultiplyAdd(a11, x, y);
            a12 = Vector512.FusedMultiplyAdd(a12, x, y); a13 = Vector512.FusedMultiplyAdd(a13, x, y);
            a14 = Vector512.FusedMultiplyAdd(a14, x, y); a15 = Vector512.FusedMultiplyAdd(a15, x, y);
        }
        var s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15;
        return Vector512.Sum(s);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains256(long n)
    {
        var x = Vector256.Create(0.999999f); var y = Vector256.Create(1e-7f);
        Vector256<float> a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x, a12 = x, a13 = x, a14 = x, a15 = x;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, x, y); a1 = Vector256.FusedMultiplyAdd(a1, x, y);
            a2 = Vector256.FusedMultiplyAdd(a2, x, y); a3 = Vector256.FusedMultiplyAdd(a3, x, y);
            a4 = Vector256.FusedMultiplyAdd(a4, x, y); a5 = Vector256.FusedMultiplyAdd(a5, x, y);
            a6 = Vector256.FusedMultiplyAdd(a6, x, y); a7 = Vector256.FusedMultiplyAdd(a7, x, y);
            a8 = Vector256.FusedMultiplyAdd(a8, x, y); a9 = Vector256.FusedMultiplyAdd(a9, x, y);
            a10 = Vector256.FusedMultiplyAdd(a10, x, y); a11 = Vector256.FusedMultiplyAdd(a11, x, y);
            a12 = Vector256.FusedMultiplyAdd(a12, x, y); a13 = Vector256.FusedMultiplyAdd(a13, x, y);
            a14 = Vector256.FusedMultiplyAdd(a14, x, y); a15 = Vector256.FusedMultiplyAdd(a15, x, y);
        }
        var s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15;
        return Vector256.Sum(s);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float ChainsScalar(long n)
    {
        float x = 0.999999f, y = 1e-7f;
        float a0 = x, a1 = x, a2 = x, a3 = x, a4 = x, a5 = x, a6 = x, a7 = x, a8 = x, a9 = x, a10 = x, a11 = x, a12 = x, a13 = x, a14 = x, a15 = x;
        for (long i = 0; i < n; i++)
        {
            a0 = MathF.FusedMultiplyAdd(a0, x, y); a1 = MathF.FusedMultiplyAdd(a1, x, y); a2 = MathF.FusedMultiplyAdd(a2, x, y); a3 = MathF.FusedMultiplyAdd(a3, x, y);
            a4 = MathF.FusedMultiplyAdd(a4, x, y); a5 = MathF.FusedMultiplyAdd(a5, x, y); a6 = MathF.FusedMultiplyAdd(a6, x, y); a7 = MathF.FusedMultiplyAdd(a7, x, y);
            a8 = MathF.FusedMultiplyAdd(a8, x, y); a9 = MathF.FusedMultiplyAdd(a9, x, y); a10 = MathF.FusedMultiplyAdd(a10, x, y); a11 = MathF.FusedMultiplyAdd(a11, x, y);
            a12 = MathF.FusedMultiplyAdd(a12, x, y); a13 = MathF.FusedMultiplyAdd(a13, x, y); a14 = MathF.FusedMultiplyAdd(a14, x, y); a15 = MathF.FusedMultiplyAdd(a15, x, y);
        }
        return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15;
    }
}
