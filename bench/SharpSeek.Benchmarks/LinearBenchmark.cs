using System.Diagnostics;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Threading;
using SharpSeek.Tensors.Diagnostics;

namespace SharpSeek.Benchmarks;

/// <summary>
/// <see cref="MatMul.Linear"/> with many activation rows, as continuous batching calls it: prefill chunks, decode
/// batches, MoE experts over their routed tokens. Times y[m, N] = x[m, K]·Wᵀ per call and reports GFLOP/s (2·m·N·K);
/// for m = 1 also the effective weight GB/s, which the caller sets beside the read bandwidth measured in the same run.
/// </summary>
/// <remarks>
/// Every call reads its weights from DRAM, as a layer does in a real forward pass: the timed loop rotates through enough
/// copies of the matrix to exceed the last-level cache. Each figure is the median of timed passes after a warm-up.
/// </remarks>
public static class LinearBenchmark
{
    public static readonly DType[] Types = [DType.Q8_0, DType.Q4_K, DType.Q6_K, DType.Q4_0, DType.BF16, DType.F8E4M3, DType.F32];
    public static readonly (int N, int K)[] Shapes = [(2048, 2048), (1408, 2048)];
    public static readonly int[] RowCounts = [1, 8, 64, 512];

    public readonly record struct Result(DType Type, int N, int K, int M, double SecondsPerCall, double Gflops, double WeightGBps);

    public static IEnumerable<Result> Run(ComputePool pool, DType type, int n, int k, IReadOnlyList<int> rowCounts, long streamingBytes = 96L << 20)
    {
        ArgumentNullException.ThrowIfNull(pool);
        using var prototype = QuantizedGemvBenchmark.MakeWeight(type, n, k);
        long bytes = QuantizedGemvBenchmark.WeightBytes(prototype);
        int copies = (int)Math.Clamp((streamingBytes + bytes - 1) / bytes, 1, 4096);
        var weights = new List<Tensor> { prototype };
        try
        {
            for (int c = 1; c < copies; c++) weights.Add(QuantizedGemvBenchmark.Clone(prototype));
            int maxM = rowCounts.Max();
            var x = new float[maxM * k];
            var rng = new Random(1);
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            var y = new float[maxM * n];
            var results = new List<Result>();
            foreach (int m in rowCounts)
            {
                int next = 0;
                void Call() { MatMul.Linear(weights[next], x.AsSpan(0, m * k), y.AsSpan(0, m * n), m, pool); next = (next + 1) % weights.Count; }
                double seconds = MedianSecondsPerCall(Call);
                results.Add(new Result(type, n, k, m, seconds, 2.0 * m * n * k / seconds / 1e9, bytes / seconds / 1e9));
            }
            return results;
        }
        finally
        {
            foreach (var w in weights.Skip(1)) { w.BlockScales?.Dispose(); w.Dispose(); }
            prototype.BlockScales?.Dispose();
        }
    }

    /// <summary>Median seconds per call over 7 timed passes of ≥ 40 ms each (a pass repeats the call), after a warm-up.</summary>
    private static double MedianSecondsPerCall(Action call)
    {
        // Warm-up: the first use of a kernel instantiation runs tier-0 code until the runtime promotes it.
        long t0 = Stopwatch.GetTimestamp();
        int calls = 0;
        for (; calls < 2 || Stopwatch.GetElapsedTime(t0).TotalSeconds < 0.4; calls++) call();
        double estimate = Stopwatch.GetElapsedTime(t0).TotalSeconds / calls;
        int perPass = (int)Math.Clamp(0.04 / estimate, 1, 1_000_000);
        var times = new List<double>();
        for (int r = 0; r < 7; r++)
        {
            long t1 = Stopwatch.GetTimestamp();
            for (int c = 0; c < perPass; c++) call();
            times.Add(Stopwatch.GetElapsedTime(t1).TotalSeconds / perPass);
        }
        return Statistics.Median(times);
    }

    /// <summary>Prints the many-rows table for <paramref name="pool"/>, next to the FMA peak and read bandwidth measured in this run.</summary>
    public static void PrintTable(ComputePool pool, double fmaPeakGflops, double readGBps, IEnumerable<DType>? types = null)
    {
        Console.WriteLine($"== Linear y[m,N] = x[m,K]·Wᵀ, weights from DRAM each call, {pool.ThreadCount} threads " +
                          $"(f32 FMA peak {fmaPeakGflops:F1} GFLOP/s, read bandwidth {readGBps:F1} GB/s, both measured in this run)");
        Console.WriteLine($"{"dtype",-7} {"N×K",-10} {"m",4} {"time/call",11} {"GFLOP/s",9} {"of FMA peak",11}  {"m=1: weight GB/s (of read bw)",-30}");
        foreach (var type in types ?? Types)
            foreach (var (n, k) in Shapes)
                foreach (var r in Run(pool, type, n, k, RowCounts))
                {
                    string time = r.SecondsPerCall >= 1e-3 ? $"{r.SecondsPerCall * 1e3:F2} ms" : $"{r.SecondsPerCall * 1e6:F1} µs";
                    string bw = r.M == 1 ? $"{r.WeightGBps,6:F1} ({100 * r.WeightGBps / readGBps:F0}%)" : "";
                    Console.WriteLine($"{r.Type,-7} {$"{r.N}×{r.K}",-10} {r.M,4} {time,11} {r.Gflops,9:F1} {100 * r.Gflops / fmaPeakGflops,10:F1}%  {bw}");
                }
    }
}
