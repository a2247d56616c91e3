using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

// FP8 E4M3 weights through a byte lookup table (AVX-512 VBMI).
//
// Every E4M3 value, NaN included, is exactly a bfloat16 (8-bit exponent, 7-bit mantissa ⊇ E4M3's 4 and 3 bits), and a
// bfloat16 is the top half of an f32. So 64 codes become 64 floats with two 128-entry byte lookups (vpermi2b: the
// high and low byte of the bfloat16 of the code's magnitude; the lookup ignores the index's top bit, the sign, which is
// OR-ed back in), then pure bitwise work: two selects merge the byte pairs into bfloat16 words for the even and the odd
// codes, and a shift or a mask lifts each 16-bit half of a dword into an f32. Only the two lookups use the shuffle
// unit (the arithmetic widening needs a shuffle, a shift, a mask, a multiply and a NaN select per 16 weights). The
// floats come out in a fixed interleaved order, so the activation row is permuted to match once per call
// (<see cref="PermuteForFp8Lookup"/>).
public static unsafe partial class MatMul
{
    private static readonly Vector512<byte> s_fp8HiLow = Fp8Table(high: true, 0), s_fp8HiHigh = Fp8Table(high: true, 64),
        s_fp8LoLow = Fp8Table(high: false, 0), s_fp8LoHigh = Fp8Table(high: false, 64);

    private static Vector512<byte> Fp8Table(bool high, int first)
    {
        var t = new byte[64];
        for (int i = 0; i < 64; i++)
        {
            // Magnitude only (the sign comes from the code); the NaN code becomes the quiet NaN 0x7FC0.
            ushort bf = (ushort)(Bf16Codec.FromSingle(Fp8E4M3Codec.ToSingle((byte)(first + i))) & 0x7FFF);
            t[i] = high ? (byte)(bf >> 8) : (byte)bf;
        }
        return Vector512.Create(t);
    }

    /// <summary>The lookup path needs VBMI and whole 64-column groups (DeepSeek's dims are multiples of 128).</summary>
    private static bool UseFp8Lookup(int k) => Avx512Vbmi.IsSupported && k % 64 == 0;

    /// <summary>
    /// Reorders one activation row into the order <see cref="Fp8Lookup"/> emits: in each 64-group, output vector k holds
    /// in lane i the code 4i + {0, 2, 1, 3}[k] (the even codes of each dword's two words, then the odd ones).
    /// </summary>
    private static void PermuteForFp8Lookup(float* x, float* dst, int k)
    {
        for (int g = 0; g < k; g += 64)
            for (int i = 0; i < 16; i++)
            {
                dst[g + i] = x[g + 4 * i];
                dst[g + 16 + i] = x[g + 4 * i + 2];
                dst[g + 32 + i] = x[g + 4 * i + 1];
                dst[g + 48 + i] = x[g + 4 * i + 3];
            }
    }

    /// <summary>64 E4M3 codes to 64 floats (in the permuted order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fp8Lookup(Vector512<byte> codes, out Vector512<float> f0, out Vector512<float> f1, out Vector512<float> f2, out Vector512<float> f3)
    {
        var hi = (Avx512Vbmi.PermuteVar64x8x2(s_fp8HiLow, codes, s_fp8HiHigh) | (codes & Vector512.Create((byte)0x80))).AsUInt16();
        var lo = Avx512Vbmi.PermuteVar64x8x2(s_fp8LoLow, codes, s_fp8LoHigh).AsUInt16();
        // Each 16-bit word holds two codes (even in its low byte, odd in its high byte); build their bfloat16 words.
        var highByte = Vector512.Create((ushort)0xFF00);
        var even = Vector512.ConditionalSelect(highByte, hi << 8, lo).AsUInt32();
        var odd = Vector512.ConditionalSelect(highByte, hi, lo >> 8).AsUInt32();
        var top = Vector512.Create(0xFFFF0000u);
        f0 = (even << 16).AsSingle();   // code 4i
        f1 = (even & top).AsSingle();   // code 4i + 2
        f2 = (odd << 16).AsSingle();    // code 4i + 1
        f3 = (odd & top).AsSingle();    // code 4i + 3
    }

    private struct Fp8LookupBody : IRangeBody, ITileKernel
    {
        public byte* W;
        public long Stride;
        public float* X, Y, Scales;
        public int M, N, K, ScaleCols, TileRows;

        public void Execute(int start, int end, int worker)
        {
            // Two accumulators per output (block partial, total): 4 × 2 outputs; the GEMV reads one weight row at a time.
            // (Decoding a tile once into f32 for many rows measured slower here: the tile is then 4 bytes per weight.)
            if (M == 1) RunTiles<Fp8LookupBody, One, One>(ref this, M, start, end, TileRows);
            else RunTiles<Fp8LookupBody, Four, Two>(ref this, M, start, end, TileRows);
        }

        public void Tile<TA, TW>(int i0, int j0) where TA : struct, IRowCount where TW : struct, IRowCount
            => Fp8LookupTile<TA, TW>(W + j0 * Stride, Stride, X + (long)i0 * K, K, Y + (long)i0 * N + j0, N, RowScales(j0), RowScales(j0 + TW.Count - 1));

        private readonly float* RowScales(int j) => Scales + (long)(j / Tensor.Fp8BlockSize) * ScaleCols;
    }

    /// <summary>
    /// FP8 rows against permuted activation rows (stride K). Canonical order of this path: per 64-column group, lane i of
    /// an output's block partial takes codes 4i, 4i+2, 4i+1, 4i+3 in that order (one FMA chain); per 128-column block the
    /// partial is folded into the total as total = fma(partial, scale, total); the total is summed by Sum16. Up to
    /// 4 × 2 outputs (two accumulators each). Each activation vector is loaded once per group and meets both weight rows.
    /// </summary>
    private static void Fp8LookupTile<TA, TW>(byte* w, long stride, float* xp, int k, float* y, int ldy, float* s0, float* s1)
        where TA : struct, IRowCount where TW : struct, IRowCount
    {
        if (TW.Count > 2) throw new UnreachableException();
        byte* w0 = w, w1 = w + stride;
        float* x0 = xp, x1 = xp + k, x2 = xp + 2 * k, x3 = xp + 3 * k;
        Vector512<float> t00 = default, t01 = default, t10 = default, t11 = default, t20 = default, t21 = default, t30 = default, t31 = default;
        for (int c0 = 0, b = 0; c0 < k; c0 += Tensor.Fp8BlockSize, b++)
        {
            int c1 = Math.Min(k, c0 + Tensor.Fp8BlockSize);
            Vector512<float> p00 = default, p01 = default, p10 = default, p11 = default, p20 = default, p21 = default, p30 = default, p31 = default;
            for (int c = c0; c < c1; c += 64)
            {
                Fp8Lookup(Vector512.Load(w0 + c), out var a0, out var a1, out var a2, out var a3);
                Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
                if (TW.Count > 1) Fp8Lookup(Vector512.Load(w1 + c), out b0, out b1, out b2, out b3);
                // The chain of each output runs f0, f1, f2, f3 in order; outputs are interleaved per sub-vector.
                Fp8Column<TA, TW>(ref p00, ref p01, ref p10, ref p11, ref p20, ref p21, ref p30, ref p31, a0, b0, x0 + c, x1 + c, x2 + c, x3 + c);
                Fp8Column<TA, TW>(ref p00, ref p01, ref p10, ref p11, ref p20, ref p21, ref p30, ref p31, a1, b1, x0 + c + 16, x1 + c + 16, x2 + c + 16, x3 + c + 16);
                Fp8Column<TA, TW>(ref p00, ref p01, ref p10, ref p11, ref p20, ref p21, ref p30, ref p31, a2, b2, x0 + c + 32, x1 + c + 32, x2 + c + 32, x3 + c + 32);
                Fp8Column<TA, TW>(ref p00, ref p01, ref p10, ref p11, ref p20, ref p21, ref p30, ref p31, a3, b3, x0 + c + 48, x1 + c + 48, x2 + c + 48, x3 + c + 48);
            }
            var q0 = Vector512.Create(s0[b]);
            var q1 = TW.Count > 1 ? Vector512.Create(s1[b]) : default;
            t00 = Avx512F.FusedMultiplyAdd(p00, q0, t00);
            if (TW.Count > 1) t01 = Avx512F.FusedMultiplyAdd(p01, q1, t01);
            if (TA.Count > 1) { t10 = Avx512F.FusedMultiplyAdd(p10, q0, t10); if (TW.Count > 1) t11 = Avx512F.FusedMultiplyAdd(p11, q1, t11); }
            if (TA.Count > 2) { t20 = Avx512F.FusedMultiplyAdd(p20, q0, t20); if (TW.Count > 1) t21 = Avx512F.FusedMultiplyAdd(p21, q1, t21); }
            if (TA.Count > 3) { t30 = Avx512F.FusedMultiplyAdd(p30, q0, t30); if (TW.Count > 1) t31 = Avx512F.FusedMultiplyAdd(p31, q1, t31); }
        }
        Store4<TW>(y, t00, t01, default, default);
        if (TA.Count > 1) Store4<TW>(y + ldy, t10, t11, default, default);
        if (TA.Count > 2) Store4<TW>(y + 2 * ldy, t20, t21, default, default);
        if (TA.Count > 3) Store4<TW>(y + 3 * ldy, t30, t31, default, default);
    }

    /// <summary>One 16-column sub-vector: weight vectors <paramref name="fa"/>, <paramref name="fb"/> against up to four activation rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fp8Column<TA, TW>(ref Vector512<float> p00, ref Vector512<float> p01, ref Vector512<float> p10, ref Vector512<float> p11,
        ref Vector512<float> p20, ref Vector512<float> p21, ref Vector512<float> p30, ref Vector512<float> p31,
        Vector512<float> fa, Vector512<float> fb, float* x0, float* x1, float* x2, float* x3) where TA : struct, IRowCount where TW : struct, IRowCount
    {
        var x = Vector512.Load(x0);
        p00 = Avx512F.FusedMultiplyAdd(fa, x, p00);
        if (TW.Count > 1) p01 = Avx512F.FusedMultiplyAdd(fb, x, p01);
        if (TA.Count > 1) { x = Vector512.Load(x1); p10 = Avx512F.FusedMultiplyAdd(fa, x, p10); if (TW.Count > 1) p11 = Avx512F.FusedMultiplyAdd(fb, x, p11); }
        if (TA.Count > 2) { x = Vector512.Load(x2); p20 = Avx512F.FusedMultiplyAdd(fa, x, p20); if (TW.Count > 1) p21 = Avx512F.FusedMultiplyAdd(fb, x, p21); }
        if (TA.Count > 3) { x = Vector512.Load(x3); p30 = Avx512F.FusedMultiplyAdd(fa, x, p30); if (TW.Count > 1) p31 = Avx512F.FusedMultiplyAdd(fb, x, p31); }
    }
}
