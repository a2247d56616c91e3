using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

/// <summary>
/// Linear layers y = x·Wᵀ over weights stored in any of the model dtypes, without ever dequantizing a whole matrix.
/// </summary>
/// <remarks>
/// <para>
/// As in llama.cpp, each activation row is quantized once per call (Q8_0-style for Q8_0/Q4_0 weights, Q8_K for
/// Q4_K/Q6_K), and each weight block meets it in an integer dot product whose result is scaled and accumulated in f32.
/// BF16/F16/FP8 weights are widened in registers and fused-multiply-added against f32 activations.
/// </para>
/// <para>
/// Batch invariance: every output y[i, j] follows one canonical reduction order per dtype (described in each format's
/// file; the 512- and 256-bit paths share it, the scalar fallback has its own), so row i of a call with m rows is bitwise
/// the row computed alone, whatever the other rows, the pool's thread count or the tiling. The kernels are
/// register-blocked micro-tiles (MatMul.Tiles.cs): each loaded and unpacked weight vector serves up to four activation
/// rows, weight rows are visited in cache tiles that stay in L2 while every activation row passes, and with many rows
/// the quantized formats (and F16) unpack each tile once into per-thread scratch. Output rows are split across the
/// <see cref="ComputePool"/>; the single-row GEMV reads one weight row at a time, as one DRAM stream.
/// </para>
/// </remarks>
public static unsafe partial class MatMul
{
    // Below this many weight bytes per chunk (~10 µs of streaming), waking another thread costs about what it saves;
    // a small model's layers then run on the caller.
    private const int MinChunkBytes = 256 * 1024;
    // With several activation rows, a tile of weight rows this large stays in L2 while every activation row passes over it.
    private const int TileBytes = 192 * 1024;

    /// <summary>
    /// y[m, N] = x[m, K] · Wᵀ for <paramref name="weight"/> of shape [N, K] (leading dimensions flattened into N):
    /// F32, F16, BF16, F8E4M3 (with <see cref="Tensor.BlockScales"/>), Q8_0, Q4_0, Q4_K or Q6_K. x and y are row-major;
    /// y must not overlap x.
    /// </summary>
    public static void Linear(Tensor weight, ReadOnlySpan<float> x, Span<float> y, int m, ComputePool? pool = null)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, "Linear: the activation row count must be non-negative");
        if (weight.Rank < 2) throw new ArgumentException($"Linear: the weight must be a matrix [N, K], got {weight}", nameof(weight));
        if (weight.Rows > int.MaxValue) throw new ArgumentException($"Linear: {weight} has more than {int.MaxValue} rows", nameof(weight));
        int n = (int)weight.Rows, k = weight.Cols;
        DType type = weight.DType;
        if (type is DType.I32 or DType.Q8_K) throw new NotSupportedException($"Linear: {type} is not a weight format");
        if (DTypeInfo.IsBlockQuantized(type) && k % DTypeInfo.BlockElements(type) != 0)
            throw new ArgumentException($"Linear: {type} rows hold whole blocks of {DTypeInfo.BlockElements(type)}; K = {k} is not a multiple", nameof(weight));
        if (x.Length < (long)m * k) throw new ArgumentException($"Linear: x must hold m·K = {m}·{k} = {(long)m * k} floats but holds {x.Length}", nameof(x));
        if (y.Length < (long)m * n) throw new ArgumentException($"Linear: y must hold m·N = {m}·{n} = {(long)m * n} floats but holds {y.Length}", nameof(y));
        long rowStride = ValidateWeightMemory(weight, n, k);
        if (m == 0 || n == 0) return;
        if (k == 0) { y.Slice(0, m * n).Clear(); return; }
        pool ??= ComputePool.Shared;

        fixed (float* px = x)
        fixed (float* py = y)
        {
            switch (type)
            {
                case DType.F32 or DType.F16 or DType.BF16 or DType.F8E4M3:
                    LinearFloat(weight, rowStride, px, py, m, n, k, pool);
                    break;
                case DType.Q8_0 or DType.Q4_0:
                    LinearQ8_0Activations(weight, px, py, m, n, k, pool);
                    break;
                case DType.Q4_K or DType.Q6_K:
                    LinearQ8_KActivations(weight, px, py, m, n, k, pool);
                    break;
                default:
                    throw new NotSupportedException($"Linear: unsupported weight dtype {type}");
            }
        }
    }

    /// <summary>Checks that the weight's memory really holds N rows of K elements and returns the row stride in bytes.</summary>
    private static long ValidateWeightMemory(Tensor weight, int n, int k)
    {
        DType type = weight.DType;
        long rowBytes = DTypeInfo.ByteCount(type, k);
        long stride = weight.RowStrideBytes;
        if (!DTypeInfo.IsBlockQuantized(type))
        {
            if (weight.Strides[^1] != 1) throw new ArgumentException($"Linear: the weight's rows must be contiguous (last stride {weight.Strides[^1]})", nameof(weight));
            // Flattening the leading dimensions into rows needs one uniform row stride.
            for (int d = weight.Rank - 3; d >= 0; d--)
                if (weight.Shape[d] != 1 && weight.Strides[d] != weight.Strides[d + 1] * weight.Shape[d + 1])
                    throw new ArgumentException($"Linear: the weight's leading dimensions cannot be flattened into rows (strides [{string.Join(", ", weight.Strides)}])", nameof(weight));
        }
        if (stride < rowBytes) throw new ArgumentException($"Linear: row stride {stride} is smaller than a row of {rowBytes} bytes", nameof(weight));
        long need = n == 0 ? 0 : (n - 1) * stride + rowBytes;
        if (weight.ByteLength < need)
            throw new ArgumentException($"Linear: {type} weight [{n}, {k}] needs {need} bytes but its buffer holds {weight.ByteLength}", nameof(weight));
        if (type == DType.F8E4M3)
        {
            var s = weight.BlockScales ?? throw new ArgumentException($"Linear: F8E4M3 weight {weight} has no block scales (weight_scale_inv)", nameof(weight));
            long wantR = (n + Tensor.Fp8BlockSize - 1) / Tensor.Fp8BlockSize, wantC = (k + Tensor.Fp8BlockSize - 1) / Tensor.Fp8BlockSize;
            if (s.DType != DType.F32 || s.Rank != 2 || s.Shape[0] != wantR || s.Shape[1] != wantC || !s.IsContiguous)
                throw new ArgumentException($"Linear: FP8 weight [{n}, {k}] needs contiguous F32 block scales [{wantR}, {wantC}], got {s}", nameof(weight));
        }
        return stride;
    }

    /// <summary>Rows per parallel chunk so that each chunk carries at least <see cref="MinChunkBytes"/> of weights.</summary>
    private static int Grain(long rowBytes) => (int)Math.Max(1, (MinChunkBytes + rowBytes - 1) / rowBytes);

    /// <summary>Weight rows per cache tile when several activation rows share them.</summary>
    private static int TileRows(long rowBytes) => (int)Math.Max(1, TileBytes / rowBytes);
}
