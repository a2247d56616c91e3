using System.Diagnostics;
using System.Runtime.Intrinsics;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;
using SharpSeek.Tensors.Diagnostics;

namespace SharpSeek.Benchmarks;

/// <summary>
/// Decode-time linear layers (m = 1) in effective weight bytes per second, next to the machine's measured DRAM read
/// bandwidth — the bound a GEMV cannot beat, since every weight byte is read once per token.
/// </summary>
/// <remarks>
/// "streaming" rotates through enough copies of the matrix to exceed the last-level cache, so weights come from DRAM
/// as they do for a real model; "cache-hot" repeats one matrix and shows the kernel's compute ceiling. Each figure is the
/// median of repeated timed passes.
/// </remarks>
public static unsafe class QuantizedGemvBenchmark
{
    /// <summary>The suite the targets refer to: read bandwidth, then Q8_0, Q4_K, BF16 and FP8 at 4096×4096 and 14336×4096.</summary>
    public static IEnumerable<(string Name, double GBps)> RunStandardSuite(ComputePool pool, int repetitions = 11)
    {
        yield return ($"DRAM read bandwidth, {pool.ThreadCount} threads (Vector512 sum over 1 GiB)", MachineLimits.MeasureReadBandwidth(pool, repetitions: repetitions));
        foreach (var (rows, cols) in new[] { (4096, 4096), (14336, 4096) })
            foreach (var type in new[] { DType.Q8_0, DType.Q4_K, DType.BF16, DType.F8E4M3 })
                foreach (var result in Run(pool, rows, cols, type, repetitions))
                    yield return result;
    }

    /// <summary>
    /// GEMV y = W·x for a [rows, cols] weight of <paramref name="dtype"/>: effective weight GB/s (weight bytes incl. FP8
    /// scales, divided by time), streaming from DRAM and cache-hot.
    /// </summary>
    public static IEnumerable<(string Name, double GBps)> Run(ComputePool pool, int rows, int cols, DType dtype,
        int repetitions = 11, long streamingBytes = 512L << 20)
    {
        ArgumentNullException.ThrowIfNull(pool);
        using var prototype = MakeWeight(dtype, rows, cols);
        long bytes = WeightBytes(prototype);
        int copies = (int)Math.Clamp((streamingBytes + bytes - 1) / bytes, 1, 4096);
        var weights = new List<Tensor> { prototype };
        try
        {
            for (int c = 1; c < copies; c++) weights.Add(Clone(prototype));
            var x = new float[cols];
            var rng = new Random(1);
            for (int i = 0; i < cols; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            var y = new float[rows];

            // The machine is shared: time the GEMV and a plain read of the same volume in alternation, so the
            // reported fraction of bandwidth compares runs made under the same conditions.
            using var readBuffer = new NativeBuffer(Math.Max(bytes * copies, 64L << 20));
            new Span<byte>(readBuffer.Pointer, (int)Math.Min(readBuffer.Length, int.MaxValue)).Fill(1);
            var (streaming, read) = MedianGBpsPaired(repetitions,
                bytes * copies, () => { foreach (var w in weights) MatMul.Linear(w, x, y, 1, pool); },
                readBuffer.Length / MachineLimits.ReadChunkBytes * MachineLimits.ReadChunkBytes, () => MachineLimits.ReadOnce(pool, readBuffer));
            int hotPasses = Math.Max(1, (int)((64L << 20) / bytes));
            double hot = MedianGBps(repetitions, bytes * hotPasses, () =>
            {
                for (int p = 0; p < hotPasses; p++) MatMul.Linear(prototype, x, y, 1, pool);
            });
            string name = $"{dtype} GEMV {rows}x{cols} ({bytes / 1e6:F1} MB), {pool.ThreadCount} threads";
            return
            [
                ($"{name}, streaming ({100 * streaming / read:F0}% of read bandwidth)", streaming),
                ($"{name}, read bandwidth measured alongside", read),
                ($"{name}, cache-hot", hot),
            ];
        }
        finally
        {
            foreach (var w in weights.Skip(1)) { w.BlockScales?.Dispose(); w.Dispose(); }
            prototype.BlockScales?.Dispose();
        }
    }

    /// <summary>
    /// Runs <paramref name="run"/> for at least a second: the kernels start as tier-0 code and the runtime promotes them
    /// to optimized code only after a delay, which a loaded machine stretches; timing before that measures the JIT.
    /// </summary>
    internal static void WarmUp(Action run)
    {
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < 3 || Stopwatch.GetElapsedTime(t0).TotalSeconds < 1.0; i++) run();
    }

    private static double MedianGBps(int repetitions, long bytesPerRun, Action run)
    {
        WarmUp(run);
        var rates = new double[Math.Max(1, repetitions)];
        for (int r = 0; r < rates.Length; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            rates[r] = bytesPerRun / seconds / 1e9;
        }
        Array.Sort(rates);
        return rates[rates.Length / 2];
    }

    /// <summary>Medians of two workloads timed in alternation (A, B, A, B, …).</summary>
    private static (double A, double B) MedianGBpsPaired(int repetitions, long bytesA, Action a, long bytesB, Action b)
    {
        WarmUp(a);
        WarmUp(b);
        var ra = new double[Math.Max(1, repetitions)];
        var rb = new double[ra.Length];
        for (int r = 0; r < ra.Length; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            a();
            ra[r] = bytesA / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9;
            t0 = Stopwatch.GetTimestamp();
            b();
            rb[r] = bytesB / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9;
        }
        Array.Sort(ra);
        Array.Sort(rb);
        return (ra[ra.Length / 2], rb[rb.Length / 2]);
    }

    internal static long WeightBytes(Tensor w) => w.ByteLength + (w.BlockScales?.ByteLength ?? 0);

    /// <summary>
    /// A [rows, cols] weight of weight-like values. Only 64 rows are actually quantized and then tiled over the matrix:
    /// the kernels' speed does not depend on the values, and quantizing a full 14336×4096 Q4_K matrix takes seconds.
    /// </summary>
    internal static Tensor MakeWeight(DType type, int rows, int cols)
    {
        const int distinct = 128;
        var rng = new Random(42);
        var src = new float[distinct * cols];
        for (int i = 0; i < src.Length; i++) src[i] = (float)((rng.NextDouble() + rng.NextDouble() - 1) * 0.05);
        if (type == DType.F8E4M3)
        {
            using var tile = Fp8BlockQuantizer.Quantize(src, distinct, cols);
            var w = Tensor.Allocate(DType.F8E4M3, rows, cols);
            var scales = Tensor.Allocate(DType.F32, (rows + 127) / 128, (cols + 127) / 128);
            for (int r = 0; r < rows; r++) tile.RowBytes(r % distinct).CopyTo(w.RowBytes(r));
            for (int r = 0; r < scales.Shape[0]; r++) tile.BlockScales!.RowSpan<float>(0).CopyTo(scales.RowSpan<float>(r));
            tile.BlockScales!.Dispose();
            return w.WithBlockScales(scales);
        }
        var t = Tensor.Allocate(type, rows, cols);
        var rowBytes = new byte[DTypeInfo.RowBytes(type, cols)];
        for (int r = 0; r < Math.Min(rows, distinct); r++)
        {
            BlockQuantizer.Quantize(type, src.AsSpan(r * cols, cols), rowBytes);
            for (int rr = r; rr < rows; rr += distinct) rowBytes.CopyTo(t.RowBytes(rr));
        }
        return t;
    }

    internal static Tensor Clone(Tensor w)
    {
        var c = Tensor.Allocate(w.DType, w.Shape);
        new Span<byte>(w.Data, checked((int)w.ByteLength)).CopyTo(new Span<byte>(c.Data, checked((int)c.ByteLength)));
        if (w.BlockScales is { } s)
        {
            var cs = Tensor.Allocate(DType.F32, s.Shape);
            s.AsSpan<float>().CopyTo(cs.AsSpan<float>());
            c.WithBlockScales(cs);
        }
        return c;
    }
}
