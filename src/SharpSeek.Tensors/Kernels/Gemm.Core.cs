using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

/// <summary>
/// The packed GEMM driver (GotoBLAS/BLIS structure). op(B) is copied into column panels of Nr (a kc×nc block that
/// stays in L3/L2), op(A) into row panels of Mr (an mc×kc block per thread in L2), and an Mr×Nr micro-kernel keeps the
/// C tile in registers for kc steps, reading one packed B panel from L1 while it walks the A panels.
/// </summary>
public static unsafe partial class Gemm
{
    /// <summary>The micro-kernel shapes this machine can run, widest first.</summary>
    internal enum KernelPath { Vector512, Vector256, Scalar }

    private const int Kc = 256;   // depth of one packed block: an A micro-panel (Mr·Kc floats) fits L1 beside a B micro-panel
    private const int Mc = 240;   // rows of A packed per pass (240·256·4 B = 240 KB: L2)
    private const int Nc = 4096;  // columns of B packed per pass (256·4096·4 B = 4 MB: L3)
    private const int MrScalar = 4, NrScalar = 8;

    /// <summary>Tests force a narrower path to check every kernel on one machine; null = the widest supported.</summary>
    internal static KernelPath? ForcedPath { get; set; }

    internal static KernelPath BestPath =>
        Vector512.IsHardwareAccelerated ? KernelPath.Vector512
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? KernelPath.Vector256
        : KernelPath.Scalar;

    internal static IReadOnlyList<KernelPath> SupportedPaths()
    {
        var paths = new List<KernelPath>();
        if (Vector512.IsHardwareAccelerated) paths.Add(KernelPath.Vector512);
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported) paths.Add(KernelPath.Vector256);
        paths.Add(KernelPath.Scalar);
        return paths;
    }

    [ThreadStatic] private static ScratchBuffer? t_packA;
    [ThreadStatic] private static ScratchBuffer? t_packB;
    [ThreadStatic] private static ScratchBuffer? t_tile;

    private static void MultiplyCore(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, ComputePool pool)
    {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            for (int i = 0; i < m; i++)
            {
                var row = c.Slice(i * ldc, n);
                if (beta == 0f) row.Clear(); else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
            }
            return;
        }

        var path = ForcedPath ?? BestPath;
        var job = new GemmJob
        {
            TransA = transA, TransB = transB, M = m, K = k, Alpha = alpha, Lda = lda, Ldb = ldb, Ldc = ldc,
        };
        switch (path)
        {
            case KernelPath.Vector512: job.Mr = Mr512; job.Nr = Nr512; job.Kernel = &MicroKernel512; break;
            case KernelPath.Vector256: job.Mr = Mr256; job.Nr = Nr256; job.Kernel = &MicroKernel256; break;
            default: job.Mr = MrScalar; job.Nr = NrScalar; job.Kernel = &MicroKernelScalar; break;
        }

        int rowPanels = (m + job.Mr - 1) / job.Mr;
        fixed (float* pa = a, pb = b, pc = c)
        {
            job.A = pa; job.B = pb; job.C = pc;
            var packB = t_packB ??= new ScratchBuffer();
            job.PackedB = packB.Get((long)Kc * RoundUp(Math.Min(Nc, n), job.Nr));
            for (int jc = 0; jc < n; jc += Nc)
            {
                job.Jc = jc;
                job.Nc = Math.Min(Nc, n - jc);
                int colPanels = (job.Nc + job.Nr - 1) / job.Nr;
                for (int pc0 = 0; pc0 < k; pc0 += Kc)
                {
                    job.Pc = pc0;
                    job.Kc = Math.Min(Kc, k - pc0);
                    job.Beta = pc0 == 0 ? beta : 1f;

                    var pack = new PackBBody { Job = &job };
                    pool.ForEachThread(colPanels, ref pack);

                    // Split across threads by rows when there are enough row panels, else by column panels
                    // (small m: each thread packs the whole, cheap, A block and takes a share of B).
                    var compute = new ComputeBody { Job = &job, SplitRows = rowPanels >= 2 * pool.ThreadCount || colPanels < pool.ThreadCount };
                    pool.ForEachThread(compute.SplitRows ? rowPanels : colPanels, ref compute);
                }
            }
        }
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    private struct GemmJob
    {
        public bool TransA, TransB;
        public int M, K, Lda, Ldb, Ldc;
        public float Alpha, Beta;
        public float* A, B, C, PackedB;
        public int Jc, Nc, Pc, Kc;
        public int Mr, Nr;
        public delegate*<int, float*, float*, float*, int, float, float, void> Kernel;
    }

    /// <summary>Copies op(B)[pc.., jc..] into Nr-wide column panels, zero-padding the last one.</summary>
    private struct PackBBody : IRangeBody
    {
        public GemmJob* Job;

        public readonly void Execute(int start, int end, int worker)
        {
            ref GemmJob j = ref *Job;
            int nr = j.Nr, kc = j.Kc;
            for (int panel = start; panel < end; panel++)
            {
                float* dst = j.PackedB + (long)panel * kc * nr;
                int col0 = j.Jc + panel * nr;
                int cols = Math.Min(nr, j.Jc + j.Nc - col0);
                if (!j.TransB)
                {
                    // B row-major [k, n]: each k step is a contiguous run of columns.
                    for (int p = 0; p < kc; p++)
                    {
                        float* src = j.B + (long)(j.Pc + p) * j.Ldb + col0;
                        float* d = dst + p * nr;
                        int q = 0;
                        for (; q < cols; q++) d[q] = src[q];
                        for (; q < nr; q++) d[q] = 0f;
                    }
                }
                else
                {
                    // B is W[n, k] (a linear layer's weight): each output column is a contiguous row of W.
                    for (int q = 0; q < cols; q++)
                    {
                        float* src = j.B + (long)(col0 + q) * j.Ldb + j.Pc;
                        for (int p = 0; p < kc; p++) dst[p * nr + q] = src[p];
                    }
                    for (int q = cols; q < nr; q++)
                        for (int p = 0; p < kc; p++) dst[p * nr + q] = 0f;
                }
            }
        }
    }

    private struct ComputeBody : IRangeBody
    {
        public GemmJob* Job;
        public bool SplitRows;

        public readonly void Execute(int start, int end, int worker)
        {
            ref GemmJob j = ref *Job;
            int mr = j.Mr, nr = j.Nr, kc = j.Kc;
            int colPanels = (j.Nc + nr - 1) / nr;
            int rowBegin, rowEnd, panelBegin, panelEnd;
            if (SplitRows) { rowBegin = start * mr; rowEnd = Math.Min(end * mr, j.M); panelBegin = 0; panelEnd = colPanels; }
            else { rowBegin = 0; rowEnd = j.M; panelBegin = start; panelEnd = end; }

            var packA = t_packA ??= new ScratchBuffer();
            float* ap = packA.Get((long)RoundUp(Mc, mr) * kc);
            var tileBuf = t_tile ??= new ScratchBuffer();
            float* tile = tileBuf.Get(mr * nr);

            for (int ic = rowBegin; ic < rowEnd; ic += Mc)
            {
                int mc = Math.Min(Mc, rowEnd - ic);
                PackA(ref j, ic, mc, ap);
                for (int panel = panelBegin; panel < panelEnd; panel++)
                {
                    float* bp = j.PackedB + (long)panel * kc * nr;
                    int col0 = j.Jc + panel * nr;
                    int cols = Math.Min(nr, j.Jc + j.Nc - col0);
                    for (int ir = 0; ir < mc; ir += mr)
                    {
                        int rows = Math.Min(mr, mc - ir);
                        float* cTile = j.C + (long)(ic + ir) * j.Ldc + col0;
                        float* aPanel = ap + (long)ir * kc;
                        if (rows == mr && cols == nr)
                        {
                            j.Kernel(kc, aPanel, bp, cTile, j.Ldc, j.Alpha, j.Beta);
                        }
                        else
                        {
                            // Edge tile: run the full kernel into scratch, then merge only the valid part.
                            j.Kernel(kc, aPanel, bp, tile, nr, j.Alpha, 0f);
                            for (int r = 0; r < rows; r++)
                                for (int q = 0; q < cols; q++)
                                {
                                    float* dst = cTile + (long)r * j.Ldc + q;
                                    *dst = tile[r * nr + q] + (j.Beta == 0f ? 0f : j.Beta * *dst);
                                }
                        }
                    }
                }
            }
        }

        /// <summary>Copies op(A)[ic.., pc..] into Mr-tall row panels (k-major inside a panel), zero-padding the last.</summary>
        private static void PackA(ref GemmJob j, int ic, int mc, float* dst)
        {
            int mr = j.Mr, kc = j.Kc;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                float* panel = dst + (long)ir * kc;
                if (!j.TransA)
                {
                    for (int r = 0; r < rows; r++)
                    {
                        float* src = j.A + (long)(ic + ir + r) * j.Lda + j.Pc;
                        for (int p = 0; p < kc; p++) panel[p * mr + r] = src[p];
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* src = j.A + (long)(j.Pc + p) * j.Lda + ic + ir;
                        for (int r = 0; r < rows; r++) panel[p * mr + r] = src[r];
                    }
                }
                for (int r = rows; r < mr; r++)
                    for (int p = 0; p < kc; p++) panel[p * mr + r] = 0f;
            }
        }
    }

    /// <summary>Portable Mr×Nr kernel for machines (or test modes) without SIMD; same packed layout.</summary>
    private static void MicroKernelScalar(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        float* acc = stackalloc float[MrScalar * NrScalar];
        for (int i = 0; i < MrScalar * NrScalar; i++) acc[i] = 0f;
        for (int p = 0; p < kc; p++)
        {
            for (int r = 0; r < MrScalar; r++)
            {
                float ar = a[r];
                for (int q = 0; q < NrScalar; q++) acc[r * NrScalar + q] += ar * b[q];
            }
            a += MrScalar;
            b += NrScalar;
        }
        for (int r = 0; r < MrScalar; r++)
            for (int q = 0; q < NrScalar; q++)
            {
                float* dst = c + r * ldc + q;
                *dst = alpha * acc[r * NrScalar + q] + (beta == 0f ? 0f : beta * *dst);
            }
    }

    /// <summary>A per-thread, 64-byte-aligned scratch area that grows on demand and lives as long as its thread.</summary>
    private sealed class ScratchBuffer
    {
        private float* _ptr;
        private long _capacity;

        public float* Get(long floats)
        {
            if (floats > _capacity)
            {
                if (_ptr != null) NativeMemory.AlignedFree(_ptr);
                _ptr = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
                _capacity = floats;
            }
            return _ptr;
        }

        ~ScratchBuffer()
        {
            if (_ptr != null) NativeMemory.AlignedFree(_ptr);
        }
    }
}
