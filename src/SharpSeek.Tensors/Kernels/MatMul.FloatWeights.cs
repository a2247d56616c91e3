using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

// F32 / F16 / BF16 / FP8 weights: widen in registers, FMA against f32 activations.
public static unsafe partial class MatMul
{
    /// <summary>How one weight dtype turns stored elements into floats; a struct per dtype so the JIT specializes each kernel.</summary>
    private interface IFloatWeightRow
    {
        /// <summary>Elements j..j+15 of the row (needs Avx512F).</summary>
        static abstract Vector512<float> Load16(byte* row, int j);
        /// <summary>Elements j..j+7 of the row (needs Avx2).</summary>
        static abstract Vector256<float> Load8(byte* row, int j);
        static abstract float Load1(byte* row, int j);
    }

    private struct F32Row : IFloatWeightRow
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int j) => Vector512.Load((float*)row + j);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* row, int j) => Vector256.Load((float*)row + j);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int j) => ((float*)row)[j];
    }

    private struct Bf16Row : IFloatWeightRow
    {
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
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int j)
            => Fp8E4M3Codec.WidenSignExtended(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)row + j)));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load8(byte* row, int j)
            => Fp8E4M3Codec.WidenSignExtended(Avx2.ConvertToVector256Int32((sbyte*)row + j));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int j) => Fp8E4M3Codec.ToSingle(row[j]);
    }

    private static void LinearFloat(Tensor weight, long rowStride, float* x, float* y, int m, int n, int k, ComputePool pool)
    {
        long rowBytes = DTypeInfo.ByteCount(weight.DType, k);
        switch (weight.DType)
        {
            case DType.F32: RunFloat<F32Row>(weight.Data, rowStride, rowBytes, x, y, m, n, k, null, 0, pool); break;
            case DType.BF16: RunFloat<Bf16Row>(weight.Data, rowStride, rowBytes, x, y, m, n, k, null, 0, pool); break;
            case DType.F16: RunFloat<F16Row>(weight.Data, rowStride, rowBytes, x, y, m, n, k, null, 0, pool); break;
            case DType.F8E4M3:
                var scales = weight.BlockScales!;
                if (UseFp8Lookup(k))
                {
                    float* xp = (float*)ActivationScratch((long)m * k * sizeof(float));
                    for (int i = 0; i < m; i++) PermuteForFp8Lookup(x + (long)i * k, xp + (long)i * k, k);
                    RunFloat<Fp8LookupRow>(weight.Data, rowStride, rowBytes, xp, y, m, n, k, (float*)scales.Data, scales.Shape[1], pool);
                }
                else
                {
                    RunFloat<Fp8Row>(weight.Data, rowStride, rowBytes, x, y, m, n, k, (float*)scales.Data, scales.Shape[1], pool);
                }
                break;
            default: throw new NotSupportedException($"Linear: {weight.DType} is not a float weight format");
        }
    }

    /// <summary>Marks the FP8 table-lookup kernels (<see cref="DotFp8Lookup"/>), which read permuted activations.</summary>
    private struct Fp8LookupRow : IFloatWeightRow
    {
        public static Vector512<float> Load16(byte* row, int j) => throw new UnreachableException();
        public static Vector256<float> Load8(byte* row, int j) => throw new UnreachableException();
        public static float Load1(byte* row, int j) => throw new UnreachableException();
    }

    private static void RunFloat<TRow>(byte* w, long stride, long rowBytes, float* x, float* y, int m, int n, int k,
        float* scales, int scaleCols, ComputePool pool) where TRow : struct, IFloatWeightRow
    {
        var body = new FloatWeightBody<TRow>
        {
            W = w, Stride = stride, X = x, Y = y, M = m, N = n, K = k, Scales = scales, ScaleCols = scaleCols,
            TileRows = TileRows(rowBytes),
        };
        pool.For(n, Grain(rowBytes * m), ref body);
    }

    private struct FloatWeightBody<TRow> : IRangeBody where TRow : struct, IFloatWeightRow
    {
        public byte* W;
        public long Stride;
        public float* X, Y, Scales;
        public int M, N, K, ScaleCols, TileRows;

        public readonly void Execute(int start, int end, int worker)
        {
            for (int r0 = start; r0 < end; r0 += TileRows)
            {
                int r1 = Math.Min(end, r0 + TileRows);
                int i = 0;
                for (; i + 4 <= M; i += 4)
                    for (int j = r0; j < r1; j++)
                    {
                        byte* row = W + j * Stride;
                        float* x = X + (long)i * K, y = Y + (long)i * N + j;
                        if (typeof(TRow) == typeof(Fp8LookupRow)) DotFp8Lookup4(row, x, K, RowScales(j), y, N);
                        else DotFloat4<TRow>(row, x, K, RowScales(j), y, N);
                    }
                for (; i < M; i++)
                    for (int j = r0; j < r1; j++)
                    {
                        byte* row = W + j * Stride;
                        float* x = X + (long)i * K;
                        Y[(long)i * N + j] = typeof(TRow) == typeof(Fp8LookupRow) ? DotFp8Lookup(row, x, K, RowScales(j))
                            : Scales == null ? DotFloat<TRow>(row, x, K)
                            : DotFp8Blocks(row, x, K, RowScales(j));
                    }
            }
        }

        private readonly float* RowScales(int j) => Scales == null ? null : Scales + (long)(j / Tensor.Fp8BlockSize) * ScaleCols;
    }

    /// <summary>Dot of one weight row with one activation row.</summary>
    private static float DotFloat<TRow>(byte* row, float* x, int k) where TRow : struct, IFloatWeightRow
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            var a0 = Vector512<float>.Zero;
            var a1 = Vector512<float>.Zero;
            var a2 = Vector512<float>.Zero;
            var a3 = Vector512<float>.Zero;
            for (; j + 64 <= k; j += 64)
            {
                a0 = Avx512F.FusedMultiplyAdd(TRow.Load16(row, j), Vector512.Load(x + j), a0);
                a1 = Avx512F.FusedMultiplyAdd(TRow.Load16(row, j + 16), Vector512.Load(x + j + 16), a1);
                a2 = Avx512F.FusedMultiplyAdd(TRow.Load16(row, j + 32), Vector512.Load(x + j + 32), a2);
                a3 = Avx512F.FusedMultiplyAdd(TRow.Load16(row, j + 48), Vector512.Load(x + j + 48), a3);
            }
            for (; j + 16 <= k; j += 16) a0 = Avx512F.FusedMultiplyAdd(TRow.Load16(row, j), Vector512.Load(x + j), a0);
            float tail = 0;
            for (; j < k; j++) tail += TRow.Load1(row, j) * x[j];
            return Vector512.Sum((a0 + a1) + (a2 + a3)) + tail;
        }
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            var a0 = Vector256<float>.Zero;
            var a1 = Vector256<float>.Zero;
            var a2 = Vector256<float>.Zero;
            var a3 = Vector256<float>.Zero;
            for (; j + 32 <= k; j += 32)
            {
                a0 = Fma.MultiplyAdd(TRow.Load8(row, j), Vector256.Load(x + j), a0);
                a1 = Fma.MultiplyAdd(TRow.Load8(row, j + 8), Vector256.Load(x + j + 8), a1);
                a2 = Fma.MultiplyAdd(TRow.Load8(row, j + 16), Vector256.Load(x + j + 16), a2);
                a3 = Fma.MultiplyAdd(TRow.Load8(row, j + 24), Vector256.Load(x + j + 24), a3);
            }
            for (; j + 8 <= k; j += 8) a0 = Fma.MultiplyAdd(TRow.Load8(row, j), Vector256.Load(x + j), a0);
            float tail = 0;
            for (; j < k; j++) tail += TRow.Load1(row, j) * x[j];
            return Vector256.Sum((a0 + a1) + (a2 + a3)) + tail;
        }
        float s = 0;
        for (; j < k; j++) s += TRow.Load1(row, j) * x[j];
        return s;
    }

    /// <summary>
    /// Dot of an FP8 row with one activation row where each 128-column block's partial sum is scaled by its
    /// <paramref name="blockScales"/> entry (the arithmetic-widening path, when the table lookup is unavailable).
    /// </summary>
    private static float DotFp8Blocks(byte* row, float* x, int k, float* blockScales)
    {
        float total = 0;
        for (int c0 = 0, b = 0; c0 < k; c0 += Tensor.Fp8BlockSize, b++)
        {
            int len = Math.Min(k - c0, Tensor.Fp8BlockSize);
            total += DotFloat<Fp8Row>(row + c0, x + c0, len) * blockScales[b]; // one byte per element
        }
        return total;
    }

    /// <summary>
    /// One weight row against four activation rows (<paramref name="x"/>, x+K, x+2K, x+3K): each weight vector is widened
    /// once and used four times. Results go to y[0], y[ldy], y[2·ldy], y[3·ldy].
    /// </summary>
    private static void DotFloat4<TRow>(byte* row, float* x, int k, float* blockScales, float* y, int ldy) where TRow : struct, IFloatWeightRow
    {
        int block = blockScales == null ? k : Tensor.Fp8BlockSize;
        float* x0 = x, x1 = x + k, x2 = x + 2 * k, x3 = x + 3 * k;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            Vector512<float> t0 = default, t1 = default, t2 = default, t3 = default;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int c0 = 0, b = 0; c0 < k; c0 += block, b++)
            {
                int c1 = Math.Min(k, c0 + block), j = c0;
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (; j + 16 <= c1; j += 16)
                {
                    var w = TRow.Load16(row, j);
                    a0 = Avx512F.FusedMultiplyAdd(w, Vector512.Load(x0 + j), a0);
                    a1 = Avx512F.FusedMultiplyAdd(w, Vector512.Load(x1 + j), a1);
                    a2 = Avx512F.FusedMultiplyAdd(w, Vector512.Load(x2 + j), a2);
                    a3 = Avx512F.FusedMultiplyAdd(w, Vector512.Load(x3 + j), a3);
                }
                float u0 = 0, u1 = 0, u2 = 0, u3 = 0;
                for (; j < c1; j++)
                {
                    float w = TRow.Load1(row, j);
                    u0 += w * x0[j]; u1 += w * x1[j]; u2 += w * x2[j]; u3 += w * x3[j];
                }
                var s = Vector512.Create(blockScales == null ? 1f : blockScales[b]);
                t0 = Avx512F.FusedMultiplyAdd(a0, s, t0); t1 = Avx512F.FusedMultiplyAdd(a1, s, t1);
                t2 = Avx512F.FusedMultiplyAdd(a2, s, t2); t3 = Avx512F.FusedMultiplyAdd(a3, s, t3);
                float ss = s.ToScalar();
                s0 += u0 * ss; s1 += u1 * ss; s2 += u2 * ss; s3 += u3 * ss;
            }
            y[0] = Vector512.Sum(t0) + s0; y[ldy] = Vector512.Sum(t1) + s1;
            y[2 * ldy] = Vector512.Sum(t2) + s2; y[3 * ldy] = Vector512.Sum(t3) + s3;
            return;
        }
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            Vector256<float> t0 = default, t1 = default, t2 = default, t3 = default;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int c0 = 0, b = 0; c0 < k; c0 += block, b++)
            {
                int c1 = Math.Min(k, c0 + block), j = c0;
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (; j + 8 <= c1; j += 8)
                {
                    var w = TRow.Load8(row, j);
                    a0 = Fma.MultiplyAdd(w, Vector256.Load(x0 + j), a0);
                    a1 = Fma.MultiplyAdd(w, Vector256.Load(x1 + j), a1);
                    a2 = Fma.MultiplyAdd(w, Vector256.Load(x2 + j), a2);
                    a3 = Fma.MultiplyAdd(w, Vector256.Load(x3 + j), a3);
                }
                float u0 = 0, u1 = 0, u2 = 0, u3 = 0;
                for (; j < c1; j++)
                {
                    float w = TRow.Load1(row, j);
                    u0 += w * x0[j]; u1 += w * x1[j]; u2 += w * x2[j]; u3 += w * x3[j];
                }
                var s = Vector256.Create(blockScales == null ? 1f : blockScales[b]);
                t0 = Fma.MultiplyAdd(a0, s, t0); t1 = Fma.MultiplyAdd(a1, s, t1);
                t2 = Fma.MultiplyAdd(a2, s, t2); t3 = Fma.MultiplyAdd(a3, s, t3);
                float ss = s.ToScalar();
                s0 += u0 * ss; s1 += u1 * ss; s2 += u2 * ss; s3 += u3 * ss;
            }
            y[0] = Vector256.Sum(t0) + s0; y[ldy] = Vector256.Sum(t1) + s1;
            y[2 * ldy] = Vector256.Sum(t2) + s2; y[3 * ldy] = Vector256.Sum(t3) + s3;
            return;
        }
        for (int r = 0; r < 4; r++)
            y[r * ldy] = blockScales == null ? DotFloat<TRow>(row, x + (long)r * k, k) : DotFp8Blocks(row, x + (long)r * k, k, blockScales);
    }
}
