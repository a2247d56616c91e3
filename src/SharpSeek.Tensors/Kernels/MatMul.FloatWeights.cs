using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

// F32 / F16 / BF16 / FP8 weights: widen in registers, FMA against f32 activations.
//
// Canonical order (both vector paths): output (i, j) keeps one 16-lane accumulator; lane l takes the products of columns
// c ≡ l (mod 16) in increasing c, by FMA, starting from +0; a ragged last vector is zero-padded (0·0 adds nothing). The
// accumulator is then summed by the fixed tree of Sum16. FP8 adds a level: each 128-column block runs its own 16-lane
// partial as above, and the block's partial is folded into the total accumulator as total = fma(partial, scale, total).
// The 256-bit path holds each 16-lane accumulator as two ymm (lanes 0..7, 8..15), so it computes the same bits as the
// 512-bit path. Without SIMD, each output is a plain sequential sum (per FP8 block, then scaled and added).
public static unsafe partial class MatMul
{
    /// <summary>How one weight dtype turns stored elements into floats; a struct per dtype so the JIT specializes each kernel.</summary>
    private interface IFloatWeightRow
    {
        /// <summary>Bytes per stored element.</summary>
        static abstract int ElementBytes { get; }
        /// <summary>Widening costs enough that many activation rows should share one widened copy of the tile (F16).</summary>
        static abstract bool WidenTiles { get; }
        /// <summary>Elements j..j+15 of the row (needs Avx512F).</summary>
        static abstract Vector512<float> Load16(byte* row, int j);
        /// <summary>Elements j..j+7 of the row (needs Avx2).</summary>
        static abstract Vector256<float> Load8(byte* row, int j);
        static abstract float Load1(byte* row, int j);
    }

    private struct F32Row : IFloatWeightRow
    {
        public static bool WidenTiles => false;
        public static int ElementBytes => 4;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int j) => Vector512.Load((float*)row + j);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* row, int j) => Vector256.Load((float*)row + j);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int j) => ((float*)row)[j];
    }

    private struct Bf16Row : IFloatWeightRow
    {
        public static bool WidenTiles => false;
        public static int ElementBytes => 2;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int j)
            => Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load((ushort*)row + j)), 16).AsSingle();
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* row, int j)
            => Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((ushort*)row + j), 16).AsSingle();
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int j) => Bf16Codec.ToSingle(((ushort*)row)[j]);
    }

    private struct F16Row : IFloatWeightRow
    {
        public static bool WidenTiles => true;
        public static int ElementBytes => 2;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int j)
            => Fp16Codec.Widen(Avx512F.ConvertToVector512UInt32(Vector256.Load((ushort*)row + j)));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* row, int j)
            => Fp16Codec.Widen(Avx2.ConvertToVector256Int32((ushort*)row + j).AsUInt32());
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int j) => Fp16Codec.ToSingle(((ushort*)row)[j]);
    }

    /// <summary>Raw E4M3 codes; the 128×128 block scale is applied per column block by the kernel.</summary>
    private struct Fp8Row : IFloatWeightRow
    {
        public static bool WidenTiles => false;
        public static int ElementBytes => 1;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int j)
            => Fp8E4M3Codec.WidenSignExtended(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)row + j)));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* row, int j)
            => Fp8E4M3Codec.WidenSignExtended(Avx2.ConvertToVector256Int32((sbyte*)row + j));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int j) => Fp8E4M3Codec.ToSingle(row[j]);
    }

    /// <summary>The 512-bit (AVX-512F) or 256-bit (AVX2 + FMA) float kernels; otherwise the scalar sums.</summary>
    private static bool UseFloat512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;
    private static bool UseFloat256 => Avx2.IsSupported && Fma.IsSupported;

    private static void LinearFloat(Tensor weight, long rowStride, float* x, float* y, int m, int n, int k, ComputePool pool)
    {
        long rowBytes = DTypeInfo.ByteCount(weight.DType, k);
        float* scales = weight.DType == DType.F8E4M3 ? (float*)weight.BlockScales!.Data : null;
        int scaleCols = weight.DType == DType.F8E4M3 ? weight.BlockScales!.Shape[1] : 0;
        int ldx = k;
        if (weight.DType == DType.F8E4M3 && UseFp8Lookup(k))
        {
            float* xp = (float*)ActivationScratch((long)m * k * sizeof(float));
            for (int i = 0; i < m; i++) PermuteForFp8Lookup(x + (long)i * k, xp + (long)i * k, k);
            var body = new Fp8LookupBody { W = weight.Data, Stride = rowStride, X = xp, Y = y, M = m, N = n, K = k, Scales = scales, ScaleCols = scaleCols, TileRows = TileRows(rowBytes) };
            pool.For(n, Grain(rowBytes * m), ref body);
            return;
        }
        if ((UseFloat512 || UseFloat256) && k % 16 != 0)
        {
            // The vector kernels read activations in whole 16-float vectors: copy the rows with a zero-padded tail.
            ldx = (k + 15) & ~15;
            float* xp = (float*)ActivationScratch((long)m * ldx * sizeof(float));
            for (int i = 0; i < m; i++)
            {
                new ReadOnlySpan<float>(x + (long)i * k, k).CopyTo(new Span<float>(xp + (long)i * ldx, k));
                new Span<float>(xp + (long)i * ldx + k, ldx - k).Clear();
            }
            x = xp;
        }
        switch (weight.DType)
        {
            case DType.F32: RunFloat<F32Row>(weight.Data, rowStride, rowBytes, x, ldx, y, m, n, k, null, 0, pool); break;
            case DType.BF16: RunFloat<Bf16Row>(weight.Data, rowStride, rowBytes, x, ldx, y, m, n, k, null, 0, pool); break;
            case DType.F16: RunFloat<F16Row>(weight.Data, rowStride, rowBytes, x, ldx, y, m, n, k, null, 0, pool); break;
            case DType.F8E4M3: RunFloat<Fp8Row>(weight.Data, rowStride, rowBytes, x, ldx, y, m, n, k, scales, scaleCols, pool); break;
            default: throw new NotSupportedException($"Linear: {weight.DType} is not a float weight format");
        }
    }

    private static void RunFloat<TRow>(byte* w, long stride, long rowBytes, float* x, int ldx, float* y, int m, int n, int k,
        float* scales, int scaleCols, ComputePool pool) where TRow : struct, IFloatWeightRow
    {
        var body = new FloatTileBody<TRow>
        {
            W = w, Stride = stride, X = x, Ldx = ldx, Y = y, M = m, N = n, K = k, Scales = scales, ScaleCols = scaleCols,
            TileRows = TileRows(rowBytes),
        };
        pool.For(n, Grain(rowBytes * m), ref body);
    }

    private struct FloatTileBody<TRow> : IRangeBody, ITileKernel where TRow : struct, IFloatWeightRow
    {
        public byte* W;
        public long Stride;
        public float* X, Y, Scales;
        public int Ldx, M, N, K, ScaleCols, TileRows;

        public void Execute(int start, int end, int worker)
        {
            bool blocked = Scales != null;
            // Tile shapes (speed only, see MatMul.Tiles.cs): 16 zmm accumulators for 4×4, two per output with FP8's
            // block partials; the 256-bit path has 16 registers and two ymm per 16-lane accumulator. The GEMV reads one
            // weight row at a time: several rows in flight (separate DRAM streams) measured up to 30 % slower on Zen 4.
            if ((UseFloat512 || UseFloat256) && TRow.WidenTiles && Scales == null && M >= FloatWidenMinRows)
            {
                RunWidened(start, end);
            }
            else if (UseFloat512)
            {
                if (M == 1) RunTiles<FloatTileBody<TRow>, One, One>(ref this, M, start, end, TileRows);
                else if (blocked) RunTiles<FloatTileBody<TRow>, Four, Two>(ref this, M, start, end, TileRows);
                else RunTiles<FloatTileBody<TRow>, Four, Four>(ref this, M, start, end, TileRows);
            }
            else if (UseFloat256)
            {
                if (M == 1) RunTiles<FloatTileBody<TRow>, One, One>(ref this, M, start, end, TileRows);
                else if (blocked) RunTiles<FloatTileBody<TRow>, Two, One>(ref this, M, start, end, TileRows);
                else RunTiles<FloatTileBody<TRow>, Two, Two>(ref this, M, start, end, TileRows);
            }
            else
            {
                RunTiles<FloatTileBody<TRow>, One, One>(ref this, M, start, end, TileRows);
            }
        }

        public void Tile<TA, TW>(int i0, int j0) where TA : struct, IRowCount where TW : struct, IRowCount
        {
            byte* w = W + j0 * Stride;
            float* x = X + (long)i0 * Ldx, y = Y + (long)i0 * N + j0;
            if (Scales == null)
            {
                if (UseFloat512) FloatTile512<TRow, TA, TW>(w, Stride, x, Ldx, K, y, N);
                else if (UseFloat256) FloatTile256<TRow, TA, TW>(w, Stride, x, Ldx, K, y, N);
                else
                    for (int i = 0; i < TA.Count; i++)
                        for (int j = 0; j < TW.Count; j++) y[(long)i * N + j] = DotFloatScalar<TRow>(w + j * Stride, x + (long)i * Ldx, K);
                return;
            }
            // FP8: the block-scale row of each weight row (rows j0..j0+TW may straddle a 128-row boundary).
            float* s0 = RowScales(j0), s1 = RowScales(j0 + Math.Min(1, TW.Count - 1)), s2 = RowScales(j0 + Math.Min(2, TW.Count - 1)), s3 = RowScales(j0 + TW.Count - 1);
            if (UseFloat512) Fp8Tile512<TA, TW>(w, Stride, x, Ldx, K, y, N, s0, s1, s2, s3);
            else if (UseFloat256) Fp8Tile256<TA, TW>(w, Stride, x, Ldx, K, y, N, s0, s1, s2, s3);
            else
                for (int i = 0; i < TA.Count; i++)
                    for (int j = 0; j < TW.Count; j++) y[(long)i * N + j] = DotFp8Scalar(w + j * Stride, x + (long)i * Ldx, K, RowScales(j0 + j));
        }

        private readonly float* RowScales(int j) => Scales + (long)(j / Tensor.Fp8BlockSize) * ScaleCols;

        /// <summary>
        /// Many rows: widen each cache tile of weight rows once into this thread's scratch and run the f32 kernel over it —
        /// the same floats in the same order, so the same bits as widening in registers.
        /// </summary>
        private readonly void RunWidened(int start, int end)
        {
            long widenedRow = (long)K * sizeof(float);
            int tileRows = (int)Math.Max(4, Math.Min(TileRows, FloatWidenedTileBytes / widenedRow));
            float* tile = (float*)PackScratch(tileRows * widenedRow);
            for (int r0 = start; r0 < end; r0 += tileRows)
            {
                int r1 = Math.Min(end, r0 + tileRows);
                for (int j = r0; j < r1; j++)
                {
                    byte* row = W + j * Stride;
                    float* dst = tile + (long)(j - r0) * K;
                    int c = 0;
                    if (UseFloat512) for (; c + 16 <= K; c += 16) TRow.Load16(row, c).Store(dst + c);
                    else for (; c + 8 <= K; c += 8) TRow.Load8(row, c).Store(dst + c);
                    for (; c < K; c++) dst[c] = TRow.Load1(row, c);
                }
                var f32 = new FloatTileBody<F32Row> { W = (byte*)tile, Stride = widenedRow, X = X, Ldx = Ldx, Y = Y + r0, M = M, N = N, K = K, TileRows = tileRows };
                if (UseFloat512) RunTiles<FloatTileBody<F32Row>, Four, Four>(ref f32, M, 0, r1 - r0, tileRows);
                else RunTiles<FloatTileBody<F32Row>, Two, Two>(ref f32, M, 0, r1 - r0, tileRows);
            }
        }
    }

    /// <summary>From this many activation rows on, <see cref="IFloatWeightRow.WidenTiles"/> formats widen each tile once.</summary>
    private const int FloatWidenMinRows = 8;
    /// <summary>A widened tile (4 bytes per weight) stays inside L2 next to the activations streaming past it.</summary>
    private const long FloatWidenedTileBytes = 256 * 1024;

    /// <summary>Without SIMD: the plain sequential dot of one weight row with one activation row.</summary>
    private static float DotFloatScalar<TRow>(byte* row, float* x, int k) where TRow : struct, IFloatWeightRow
    {
        float s = 0;
        for (int j = 0; j < k; j++) s += TRow.Load1(row, j) * x[j];
        return s;
    }

    /// <summary>Without SIMD: each 128-column block's sequential dot, times its scale, added in block order.</summary>
    private static float DotFp8Scalar(byte* row, float* x, int k, float* blockScales)
    {
        float total = 0;
        for (int c0 = 0, b = 0; c0 < k; c0 += Tensor.Fp8BlockSize, b++)
            total += DotFloatScalar<Fp8Row>(row + c0, x + c0, Math.Min(k - c0, Tensor.Fp8BlockSize)) * blockScales[b];
        return total;
    }

    /// <summary>
    /// Elements c..k−1 (fewer than 16) of a weight row copied into <paramref name="buffer"/> (64 bytes, zeroed by the
    /// caller), so the ragged last vector loads like any other with zero padding.
    /// </summary>
    private static void PadTail<TRow>(byte* row, int c, int k, byte* buffer) where TRow : struct, IFloatWeightRow
        => Unsafe.CopyBlockUnaligned(buffer, row + (long)c * TRow.ElementBytes, (uint)((k - c) * TRow.ElementBytes));
}
