using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Quantization;

namespace SharpSeek.Tensors.Kernels;

// Q6_K: x = d·sc[s]·(q − 32) over 16 sub-blocks of 16, q = 4 low bits (ql) | 2 high bits (qh) << 4.
//
// Canonical order (both vector paths). Per super-block, 16 exact int32 lanes
// I[l] = Σ_t Σ_{u<4} sc·q·x over the four 64-element chunks t (elements 64t..64t+63; lanes 0..7 from the chunk's first
// 32 elements, 8..15 from its last 32), and lanes l < 8 also − 32·(sc[2l]·S[2l] + sc[2l+1]·S[2l+1]) (S[s] the
// activation's sum over sub-block s: one vpmaddwd on either path). Output (i, j)
// keeps acc (16 f32 lanes), acc = fma(float(I), fl(d·d_x), acc) in super-block order, y = Sum16(acc). The 256-bit
// kernel computes lanes 0..7 and 8..15 as two ymm. Without SIMD: per super-block Σ_s sc[s]·(Σ q·x − 32·S[s]) as one
// integer, times fl(d·d_x), added in order.
public static unsafe partial class MatMul
{
    /// <summary>vpermw controls: scale (4t + k) over the 8 words of 128-bit lane k, for chunk t.</summary>
    private static readonly Vector512<short> s_q6kIdx0 = Q6KScaleIndex(0), s_q6kIdx1 = Q6KScaleIndex(1), s_q6kIdx2 = Q6KScaleIndex(2), s_q6kIdx3 = Q6KScaleIndex(3);

    private static Vector512<short> Q6KScaleIndex(int t)
        => Vector512.Create(Vector256.Create(Vector128.Create((short)(4 * t)), Vector128.Create((short)(4 * t + 1))),
                            Vector256.Create(Vector128.Create((short)(4 * t + 2)), Vector128.Create((short)(4 * t + 3))));

    /// <summary>vpsllvw / vpsrlvw counts that line the two qh bits of each 32-element run up at bits 4..5.</summary>
    private static readonly Vector512<ushort> s_q6kShiftLow = Vector512.Create(Vector256.Create((ushort)4), Vector256.Create((ushort)2)),
        s_q6kShiftHigh = Vector512.Create(Vector256.Create((ushort)0), Vector256.Create((ushort)2));

    /// <summary>Unpacks one Q6_K super-block for the 512-bit kernels: four chunks of 6-bit codes, their scale vectors,
    /// and the 16 scales times −32 (for the offset, see <see cref="Q6KPair512"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KUnpack512(BlockQ6_K* wb, out Vector512<byte> q0, out Vector512<byte> q1, out Vector512<byte> q2, out Vector512<byte> q3,
        out Vector512<short> c0, out Vector512<short> c1, out Vector512<short> c2, out Vector512<short> c3, out Vector256<short> offset)
    {
        var low = Vector512.Create((byte)0x0F);
        var high2 = Vector512.Create((byte)0x30);
        // Half h: 64 ql bytes hold elements l (low nibble of ql[l]), 32 + l (low of ql[32 + l]), 64 + l and 96 + l (high
        // nibbles); qh[l] bits 2k..2k+1 are the top bits of element 32k + l.
        var l0 = Vector512.Load(wb->Ql);
        var l1 = Vector512.Load(wb->Ql + 64);
        var h0 = Vector256.Load(wb->Qh);
        var h1 = Vector256.Load(wb->Qh + 32);
        var hz0 = Vector512.Create(h0, h0).AsUInt16();
        var hz1 = Vector512.Create(h1, h1).AsUInt16();
        q0 = (l0 & low) | (Avx512BW.ShiftLeftLogicalVariable(hz0, s_q6kShiftLow).AsByte() & high2);                                  // elements 0..63
        q1 = (Avx512BW.ShiftRightLogical(l0.AsUInt16(), 4).AsByte() & low) | (Avx512BW.ShiftRightLogicalVariable(hz0, s_q6kShiftHigh).AsByte() & high2); // 64..127
        q2 = (l1 & low) | (Avx512BW.ShiftLeftLogicalVariable(hz1, s_q6kShiftLow).AsByte() & high2);                                  // 128..191
        q3 = (Avx512BW.ShiftRightLogical(l1.AsUInt16(), 4).AsByte() & low) | (Avx512BW.ShiftRightLogicalVariable(hz1, s_q6kShiftHigh).AsByte() & high2); // 192..255
        var sc = Avx2.ConvertToVector256Int16(Vector128.Load(wb->Scales));
        var sc512 = sc.ToVector512Unsafe();
        c0 = Avx512BW.PermuteVar32x16(sc512, s_q6kIdx0);
        c1 = Avx512BW.PermuteVar32x16(sc512, s_q6kIdx1);
        c2 = Avx512BW.PermuteVar32x16(sc512, s_q6kIdx2);
        c3 = Avx512BW.PermuteVar32x16(sc512, s_q6kIdx3);
        offset = sc * Vector256.Create((short)-32); // |−32·sc| ≤ 4096: int16
    }

    /// <summary>One output's super-block on the 512-bit path (every 512-bit Q6_K kernel does its per-output arithmetic here).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Q6KPair512(Vector512<float> acc, Vector512<byte> q0, Vector512<byte> q1, Vector512<byte> q2, Vector512<byte> q3,
        Vector512<short> c0, Vector512<short> c1, Vector512<short> c2, Vector512<short> c3, Vector256<short> offset, float d, BlockQ8_K* xb)
    {
        sbyte* y = xb->Qs;
        // Lanes 0..7 of the offset term: −32·(sc[2l]·S[2l] + sc[2l+1]·S[2l+1]); lanes 8..15 get none.
        var off = Avx2.MultiplyAddAdjacent(Vector256.Load(xb->BSums), offset).ToVector512();
        var i = ((Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q0, Vector512.Load(y)), c0)
                + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q1, Vector512.Load(y + 64)), c1))
               + (Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q2, Vector512.Load(y + 128)), c2)
                + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q3, Vector512.Load(y + 192)), c3)))
              + off;
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i), Vector512.Create(d * xb->D), acc);
    }

    /// <summary>The 512-bit kernel straight from the weight rows: up to 4 activation rows × 2 weight rows.</summary>
    private static void Q6KTile512<TA, TW>(byte* w, long stride, BlockQ8_K* act, int nb, float* y, int ldy)
        where TA : struct, IRowCount where TW : struct, IRowCount
    {
        if (TW.Count > 2) throw new UnreachableException();
        var w0 = (BlockQ6_K*)w;
        var w1 = (BlockQ6_K*)(w + stride);
        BlockQ8_K* x0 = act, x1 = act + nb, x2 = act + 2 * nb, x3 = act + 3 * nb;
        Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
        for (int b = 0; b < nb; b++)
        {
            Q6KUnpack512(w0 + b, out var q0, out var q1, out var q2, out var q3, out var c0, out var c1, out var c2, out var c3, out var o);
            float d = Fp16Codec.ToSingle(w0[b].D);
            a00 = Q6KPair512(a00, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x0 + b);
            if (TA.Count > 1) a10 = Q6KPair512(a10, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x1 + b);
            if (TA.Count > 2) a20 = Q6KPair512(a20, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x2 + b);
            if (TA.Count > 3) a30 = Q6KPair512(a30, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x3 + b);
            if (TW.Count > 1)
            {
                Q6KUnpack512(w1 + b, out q0, out q1, out q2, out q3, out c0, out c1, out c2, out c3, out o);
                d = Fp16Codec.ToSingle(w1[b].D);
                a01 = Q6KPair512(a01, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x0 + b);
                if (TA.Count > 1) a11 = Q6KPair512(a11, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x1 + b);
                if (TA.Count > 2) a21 = Q6KPair512(a21, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x2 + b);
                if (TA.Count > 3) a31 = Q6KPair512(a31, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x3 + b);
            }
        }
        y[0] = Sum16(a00);
        if (TW.Count > 1) y[1] = Sum16(a01);
        if (TA.Count > 1) { y[ldy] = Sum16(a10); if (TW.Count > 1) y[ldy + 1] = Sum16(a11); }
        if (TA.Count > 2) { y[2 * ldy] = Sum16(a20); if (TW.Count > 1) y[2 * ldy + 1] = Sum16(a21); }
        if (TA.Count > 3) { y[3 * ldy] = Sum16(a30); if (TW.Count > 1) y[3 * ldy + 1] = Sum16(a31); }
    }

    /// <summary>Bytes per super-block of an unpacked Q6_K row: 4 code chunks, 4 scale vectors, the offset scales, d (padded to 64).</summary>
    private const int Q6KPackedBlock = 576;

    /// <summary>Unpacks weight rows for <see cref="Q6KPackedTile512{TA}"/> exactly as <see cref="Q6KUnpack512"/> does in registers.</summary>
    private static void PackQ6KTile(byte* w, long stride, int rows, int nb, byte* dst)
    {
        for (int r = 0; r < rows; r++, w += stride)
            for (int b = 0; b < nb; b++, dst += Q6KPackedBlock)
            {
                var wb = (BlockQ6_K*)w + b;
                Q6KUnpack512(wb, out var q0, out var q1, out var q2, out var q3, out var c0, out var c1, out var c2, out var c3, out var o);
                q0.Store(dst); q1.Store(dst + 64); q2.Store(dst + 128); q3.Store(dst + 192);
                c0.Store((short*)(dst + 256)); c1.Store((short*)(dst + 320)); c2.Store((short*)(dst + 384)); c3.Store((short*)(dst + 448));
                o.Store((short*)(dst + 512));
                *(float*)(dst + 544) = Fp16Codec.ToSingle(wb->D);
            }
    }

    /// <summary>The 512-bit kernel over one unpacked weight row and up to 4 activation rows.</summary>
    private static void Q6KPackedTile512<TA>(byte* pw, BlockQ8_K* act, int nb, float* y, int ldy) where TA : struct, IRowCount
    {
        BlockQ8_K* x0 = act, x1 = act + nb, x2 = act + 2 * nb, x3 = act + 3 * nb;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < nb; b++, pw += Q6KPackedBlock)
        {
            var q0 = Vector512.Load(pw); var q1 = Vector512.Load(pw + 64); var q2 = Vector512.Load(pw + 128); var q3 = Vector512.Load(pw + 192);
            var c0 = Vector512.Load((short*)(pw + 256)); var c1 = Vector512.Load((short*)(pw + 320));
            var c2 = Vector512.Load((short*)(pw + 384)); var c3 = Vector512.Load((short*)(pw + 448));
            var o = Vector256.Load((short*)(pw + 512));
            float d = *(float*)(pw + 544);
            a0 = Q6KPair512(a0, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x0 + b);
            if (TA.Count > 1) a1 = Q6KPair512(a1, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x1 + b);
            if (TA.Count > 2) a2 = Q6KPair512(a2, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x2 + b);
            if (TA.Count > 3) a3 = Q6KPair512(a3, q0, q1, q2, q3, c0, c1, c2, c3, o, d, x3 + b);
        }
        y[0] = Sum16(a0);
        if (TA.Count > 1) y[ldy] = Sum16(a1);
        if (TA.Count > 2) y[2 * ldy] = Sum16(a2);
        if (TA.Count > 3) y[3 * ldy] = Sum16(a3);
    }

    // vpshufb patterns for the 256-bit path: word 2k in the low 128-bit lane, 2k+1 in the high one.
    private static readonly Vector256<byte> s_q6kPair0 = WordBroadcast(0, 1), s_q6kPair1 = WordBroadcast(2, 3),
        s_q6kPair2 = WordBroadcast(4, 5), s_q6kPair3 = WordBroadcast(6, 7);

    /// <summary>The 256-bit path, one output: lanes 0..7 (first 32 elements of each chunk) and 8..15 as two ymm.</summary>
    private static float DotQ6K256(BlockQ6_K* w, BlockQ8_K* x, int nb)
    {
        Vector256<float> lo = default, hi = default;
        var low = Vector256.Create((byte)0x0F);
        var high2 = Vector256.Create((byte)0x30);
        for (int b = 0; b < nb; b++)
        {
            BlockQ6_K* wb = w + b;
            BlockQ8_K* xb = x + b;
            var d = Vector256.Create(Fp16Codec.ToSingle(wb->D) * xb->D);
            var sc16 = Avx2.ConvertToVector256Int16(Vector128.Load(wb->Scales));
            // Offsets, lanes 0..7: −32·(sc[2l]·S[2l] + sc[2l+1]·S[2l+1]); the high lanes get none.
            var iLo = Avx2.MultiplyAddAdjacent(Vector256.Load(xb->BSums), sc16 * Vector256.Create((short)-32));
            var iHi = Vector256<int>.Zero;
            for (int h = 0; h < 2; h++)
            {
                var scales = (h == 0 ? Vector256.Create(sc16.GetLower(), sc16.GetLower()) : Vector256.Create(sc16.GetUpper(), sc16.GetUpper())).AsByte();
                var ql0 = Vector256.Load(wb->Ql + 64 * h);
                var ql1 = Vector256.Load(wb->Ql + 64 * h + 32);
                var qh = Vector256.Load(wb->Qh + 32 * h).AsUInt16();
                sbyte* y = xb->Qs + 128 * h;
                var q1 = (ql0 & low) | (Avx2.ShiftLeftLogical(qh, 4).AsByte() & high2);                                   // elements 0..31 of the half
                var q2 = (ql1 & low) | (Avx2.ShiftLeftLogical(qh, 2).AsByte() & high2);                                   // 32..63
                var q3 = (Avx2.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte() & low) | (qh.AsByte() & high2);              // 64..95
                var q4 = (Avx2.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte() & low) | (Avx2.ShiftRightLogical(qh, 2).AsByte() & high2); // 96..127
                iLo = AddScaledPairs(iLo, Avx2.MultiplyAddAdjacent(q1, Vector256.Load(y)), Avx2.Shuffle(scales, s_q6kPair0).AsInt16());
                iHi = AddScaledPairs(iHi, Avx2.MultiplyAddAdjacent(q2, Vector256.Load(y + 32)), Avx2.Shuffle(scales, s_q6kPair1).AsInt16());
                iLo = AddScaledPairs(iLo, Avx2.MultiplyAddAdjacent(q3, Vector256.Load(y + 64)), Avx2.Shuffle(scales, s_q6kPair2).AsInt16());
                iHi = AddScaledPairs(iHi, Avx2.MultiplyAddAdjacent(q4, Vector256.Load(y + 96)), Avx2.Shuffle(scales, s_q6kPair3).AsInt16());
            }
            lo = Fma.MultiplyAdd(Avx.ConvertToVector256Single(iLo), d, lo);
            hi = Fma.MultiplyAdd(Avx.ConvertToVector256Single(iHi), d, hi);
        }
        return Sum16(lo, hi);
    }

    /// <summary>Without SIMD: per super-block Σ_s sc[s]·(Σ q·x − 32·S[s]) as one integer, scaled and added in order.</summary>
    private static float DotQ6KScalar(BlockQ6_K* w, BlockQ8_K* x, int nb)
    {
        float sum = 0;
        int* sub = stackalloc int[16];
        for (int b = 0; b < nb; b++)
        {
            BlockQ6_K* wb = w + b;
            BlockQ8_K* xb = x + b;
            for (int s = 0; s < 16; s++) sub[s] = 0;
            for (int h = 0; h < 2; h++)
            {
                byte* ql = wb->Ql + 64 * h;
                byte* qh = wb->Qh + 32 * h;
                sbyte* y = xb->Qs + 128 * h;
                for (int l = 0; l < 32; l++)
                {
                    int s = 8 * h + l / 16;
                    sub[s] += ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) * y[l];
                    sub[s + 2] += ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) * y[l + 32];
                    sub[s + 4] += ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) * y[l + 64];
                    sub[s + 6] += ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) * y[l + 96];
                }
            }
            int sumi = 0;
            for (int s = 0; s < 16; s++) sumi += wb->Scales[s] * (sub[s] - 32 * xb->BSums[s]);
            sum += Fp16Codec.ToSingle(wb->D) * xb->D * sumi;
        }
        return sum;
    }
}
