using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Quantization;

namespace SharpSeek.Tensors.Kernels;

// Q4_K: x = d·sc[j]·q − dmin·m[j] over 8 sub-blocks of 32.
//
// Canonical order (both vector paths; activations arranged by ArrangeForQ4K). Per super-block, 16 exact int32 lanes
// I[l] = Σ_c Σ_{t<4} sc·q·x over the four 64-byte nibble chunks c (low/high nibbles of Qs[0..63] and Qs[64..127],
// lanes 0..7 from the chunk's first 32 bytes, 8..15 from its last 32), and 4 exact int32 lanes
// M[l] = m[2l]·S[2l] + m[2l+1]·S[2l+1] (S the activation's sub-block sums). Output (i, j) keeps acc (16 f32 lanes) and
// macc (4 lanes): acc = fma(float(I), fl(d·d_x), acc), macc = fma(float(M), fl(dmin·d_x), macc) in super-block order;
// y = Sum16(acc) − Sum4(macc). The 256-bit kernel computes lanes 0..7 and 8..15 as two ymm. Without SIMD: per
// super-block the integer sums in one scalar each, fl(d·d_x)·Σ − fl(dmin·d_x)·Σ added in order.
public static unsafe partial class MatMul
{
    /// <summary>
    /// Rearranges a Q8_K block for the Q4_K kernels. A 64-byte load of Q4_K nibbles holds sub-blocks (2g, 2g+2) in its
    /// low and (2g+1, 2g+3) in its high nibbles, so each 128-element half of the quants is reordered to
    /// [0..31, 64..95, 32..63, 96..127] to line up without shuffling the weights; and BSums[0..7] become the sums of the
    /// 32-element sub-blocks (the min terms need nothing finer).
    /// </summary>
    private static void ArrangeForQ4K(BlockQ8_K* blk)
    {
        sbyte* q = blk->Qs;
        for (int h = 0; h < 256; h += 128)
        {
            var v1 = Vector256.Load(q + h + 32);
            Vector256.Load(q + h + 64).Store(q + h + 32);
            v1.Store(q + h + 64);
        }
        short* s = blk->BSums;
        for (int j = 0; j < 8; j++) s[j] = (short)(s[2 * j] + s[2 * j + 1]);
    }

    /// <summary>A Q4_K block's 6-bit scales and mins as 8 int16 each (same bit layout as <see cref="BlockQuantizer.UnpackQ4KScales"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KScalesMins(BlockQ4_K* wb, out Vector128<short> scales, out Vector128<short> mins)
    {
        // 16-byte load: the 12 scale bytes plus the first 4 nibble bytes of the same block (lane 3, unused).
        var v = Vector128.Load((uint*)wb->Scales);
        var lows = v & Vector128.Create(0x3F3F3F3Fu);                                              // [sc 0..3, min 0..3, ·, ·]
        var c = Sse2.Shuffle(v, 0b10_10_10_10);
        var highLow4 = Avx2.ShiftRightLogicalVariable(c, Vector128.Create(0u, 4u, 0u, 0u)) & Vector128.Create(0x0F0F0F0Fu);
        var highTop2 = ((v >> 6) & Vector128.Create(0x03030303u)) << 4;
        var packed = Sse2.UnpackLow(lows, highLow4 | highTop2).AsByte();                          // [sc 0..7 | min 0..7]
        scales = Sse41.ConvertToVector128Int16(packed);
        mins = Sse41.ConvertToVector128Int16(Sse2.ShiftRightLogical128BitLane(packed, 8));
    }

    /// <summary>vpermw controls: scale of sub-block a in lanes 0..15 and of b in 16..31.</summary>
    private static readonly Vector512<short> s_q4kIdx02 = Vector512.Create(Vector256.Create((short)0), Vector256.Create((short)2)),
        s_q4kIdx13 = Vector512.Create(Vector256.Create((short)1), Vector256.Create((short)3)),
        s_q4kIdx46 = Vector512.Create(Vector256.Create((short)4), Vector256.Create((short)6)),
        s_q4kIdx57 = Vector512.Create(Vector256.Create((short)5), Vector256.Create((short)7));

    /// <summary>Unpacks one Q4_K super-block for the 512-bit kernels: four nibble chunks and their scale vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KUnpack512(BlockQ4_K* wb, out Vector512<byte> n0, out Vector512<byte> n1, out Vector512<byte> n2, out Vector512<byte> n3,
        out Vector512<short> c0, out Vector512<short> c1, out Vector512<short> c2, out Vector512<short> c3, out Vector128<short> mins)
    {
        var low = Vector512.Create((byte)0x0F);
        var q0 = Vector512.Load(wb->Qs);
        var q1 = Vector512.Load(wb->Qs + 64);
        n0 = q0 & low;                                                          // sub-blocks 0, 2
        n1 = Avx512BW.ShiftRightLogical(q0.AsUInt16(), 4).AsByte() & low;       // sub-blocks 1, 3
        n2 = q1 & low;                                                          // sub-blocks 4, 6
        n3 = Avx512BW.ShiftRightLogical(q1.AsUInt16(), 4).AsByte() & low;       // sub-blocks 5, 7
        Q4KScalesMins(wb, out var sc, out mins);
        var sc512 = sc.ToVector256Unsafe().ToVector512Unsafe();
        c0 = Avx512BW.PermuteVar32x16(sc512, s_q4kIdx02);
        c1 = Avx512BW.PermuteVar32x16(sc512, s_q4kIdx13);
        c2 = Avx512BW.PermuteVar32x16(sc512, s_q4kIdx46);
        c3 = Avx512BW.PermuteVar32x16(sc512, s_q4kIdx57);
    }

    /// <summary>
    /// One output's super-block on the 512-bit path (every 512-bit Q4_K kernel does its per-output arithmetic here).
    /// <paramref name="dd"/> holds the weight's d and dmin in lanes 0 and 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q4KPair512(ref Vector512<float> acc, ref Vector128<float> macc, Vector512<byte> n0, Vector512<byte> n1, Vector512<byte> n2, Vector512<byte> n3,
        Vector512<short> c0, Vector512<short> c1, Vector512<short> c2, Vector512<short> c3, Vector128<short> mins, Vector128<float> dd, BlockQ8_K* xb)
    {
        sbyte* y = xb->Qs;
        var i = (Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n0, Vector512.Load(y)), c0)
               + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n1, Vector512.Load(y + 64)), c1))
              + (Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n2, Vector512.Load(y + 128)), c2)
               + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n3, Vector512.Load(y + 192)), c3));
        var s = dd * Vector128.Create(xb->D);
        acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(i), Vector512.Create(s.ToScalar()), acc);
        var m = Sse2.ConvertToVector128Single(Sse2.MultiplyAddAdjacent(Vector128.Load(xb->BSums), mins));
        macc = Fma.MultiplyAdd(m, Vector128.Create(s.GetElement(1)), macc);
    }

    /// <summary>The 512-bit kernel straight from the weight rows: up to 4 activation rows × 2 weight rows.</summary>
    private static void Q4KTile512<TA, TW>(byte* w, long stride, BlockQ8_K* act, int nb, float* y, int ldy)
        where TA : struct, IRowCount where TW : struct, IRowCount
    {
        if (TW.Count > 2) throw new UnreachableException();
        var w0 = (BlockQ4_K*)w;
        var w1 = (BlockQ4_K*)(w + stride);
        BlockQ8_K* x0 = act, x1 = act + nb, x2 = act + 2 * nb, x3 = act + 3 * nb;
        Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
        Vector128<float> m00 = default, m01 = default, m10 = default, m11 = default, m20 = default, m21 = default, m30 = default, m31 = default;
        for (int b = 0; b < nb; b++)
        {
            Q4KUnpack512(w0 + b, out var n0, out var n1, out var n2, out var n3, out var c0, out var c1, out var c2, out var c3, out var mn0);
            var dd0 = HalfPair((byte*)(w0 + b));
            Q4KPair512(ref a00, ref m00, n0, n1, n2, n3, c0, c1, c2, c3, mn0, dd0, x0 + b);
            if (TA.Count > 1) Q4KPair512(ref a10, ref m10, n0, n1, n2, n3, c0, c1, c2, c3, mn0, dd0, x1 + b);
            if (TA.Count > 2) Q4KPair512(ref a20, ref m20, n0, n1, n2, n3, c0, c1, c2, c3, mn0, dd0, x2 + b);
            if (TA.Count > 3) Q4KPair512(ref a30, ref m30, n0, n1, n2, n3, c0, c1, c2, c3, mn0, dd0, x3 + b);
            if (TW.Count > 1)
            {
                Q4KUnpack512(w1 + b, out n0, out n1, out n2, out n3, out c0, out c1, out c2, out c3, out var mn1);
                var dd1 = HalfPair((byte*)(w1 + b));
                Q4KPair512(ref a01, ref m01, n0, n1, n2, n3, c0, c1, c2, c3, mn1, dd1, x0 + b);
                if (TA.Count > 1) Q4KPair512(ref a11, ref m11, n0, n1, n2, n3, c0, c1, c2, c3, mn1, dd1, x1 + b);
                if (TA.Count > 2) Q4KPair512(ref a21, ref m21, n0, n1, n2, n3, c0, c1, c2, c3, mn1, dd1, x2 + b);
                if (TA.Count > 3) Q4KPair512(ref a31, ref m31, n0, n1, n2, n3, c0, c1, c2, c3, mn1, dd1, x3 + b);
            }
        }
        y[0] = Sum16(a00) - Sum4(m00);
        if (TW.Count > 1) y[1] = Sum16(a01) - Sum4(m01);
        if (TA.Count > 1) { y[ldy] = Sum16(a10) - Sum4(m10); if (TW.Count > 1) y[ldy + 1] = Sum16(a11) - Sum4(m11); }
        if (TA.Count > 2) { y[2 * ldy] = Sum16(a20) - Sum4(m20); if (TW.Count > 1) y[2 * ldy + 1] = Sum16(a21) - Sum4(m21); }
        if (TA.Count > 3) { y[3 * ldy] = Sum16(a30) - Sum4(m30); if (TW.Count > 1) y[3 * ldy + 1] = Sum16(a31) - Sum4(m31); }
    }

    /// <summary>Bytes per super-block of an unpacked Q4_K row: 4 nibble chunks, 4 scale vectors, d/dmin, mins.</summary>
    private const int Q4KPackedBlock = 576;

    /// <summary>Unpacks weight rows for <see cref="Q4KPackedTile512{TA}"/> exactly as <see cref="Q4KUnpack512"/> does in registers.</summary>
    private static void PackQ4KTile(byte* w, long stride, int rows, int nb, byte* dst)
    {
        for (int r = 0; r < rows; r++, w += stride)
            for (int b = 0; b < nb; b++, dst += Q4KPackedBlock)
            {
                var wb = (BlockQ4_K*)w + b;
                Q4KUnpack512(wb, out var n0, out var n1, out var n2, out var n3, out var c0, out var c1, out var c2, out var c3, out var mins);
                n0.Store(dst); n1.Store(dst + 64); n2.Store(dst + 128); n3.Store(dst + 192);
                c0.Store((short*)(dst + 256)); c1.Store((short*)(dst + 320)); c2.Store((short*)(dst + 384)); c3.Store((short*)(dst + 448));
                HalfPair((byte*)wb).Store((float*)(dst + 512));
                mins.Store((short*)(dst + 528));
            }
    }

    /// <summary>The 512-bit kernel over one unpacked weight row and up to 4 activation rows.</summary>
    private static void Q4KPackedTile512<TA>(byte* pw, BlockQ8_K* act, int nb, float* y, int ldy) where TA : struct, IRowCount
    {
        BlockQ8_K* x0 = act, x1 = act + nb, x2 = act + 2 * nb, x3 = act + 3 * nb;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector128<float> m0 = default, m1 = default, m2 = default, m3 = default;
        for (int b = 0; b < nb; b++, pw += Q4KPackedBlock)
        {
            var n0 = Vector512.Load(pw); var n1 = Vector512.Load(pw + 64); var n2 = Vector512.Load(pw + 128); var n3 = Vector512.Load(pw + 192);
            var c0 = Vector512.Load((short*)(pw + 256)); var c1 = Vector512.Load((short*)(pw + 320));
            var c2 = Vector512.Load((short*)(pw + 384)); var c3 = Vector512.Load((short*)(pw + 448));
            var dd = Vector128.Load((float*)(pw + 512));
            var mins = Vector128.Load((short*)(pw + 528));
            Q4KPair512(ref a0, ref m0, n0, n1, n2, n3, c0, c1, c2, c3, mins, dd, x0 + b);
            if (TA.Count > 1) Q4KPair512(ref a1, ref m1, n0, n1, n2, n3, c0, c1, c2, c3, mins, dd, x1 + b);
            if (TA.Count > 2) Q4KPair512(ref a2, ref m2, n0, n1, n2, n3, c0, c1, c2, c3, mins, dd, x2 + b);
            if (TA.Count > 3) Q4KPair512(ref a3, ref m3, n0, n1, n2, n3, c0, c1, c2, c3, mins, dd, x3 + b);
        }
        y[0] = Sum16(a0) - Sum4(m0);
        if (TA.Count > 1) y[ldy] = Sum16(a1) - Sum4(m1);
        if (TA.Count > 2) y[2 * ldy] = Sum16(a2) - Sum4(m2);
        if (TA.Count > 3) y[3 * ldy] = Sum16(a3) - Sum4(m3);
    }

    /// <summary>The 256-bit path, one output: lanes 0..7 (first 32 bytes of each chunk) and 8..15 as two ymm.</summary>
    private static float DotQ4K256(BlockQ4_K* w, BlockQ8_K* x, int nb)
    {
        Vector256<float> lo = default, hi = default;
        var macc = Vector128<float>.Zero;
        var low = Vector256.Create((byte)0x0F);
        for (int b = 0; b < nb; b++)
        {
            BlockQ4_K* wb = w + b;
            BlockQ8_K* xb = x + b;
            Q4KScalesMins(wb, out var sc16, out var mins);
            var s = HalfPair((byte*)wb) * Vector128.Create(xb->D);
            var d = Vector256.Create(s.ToScalar());
            var scales = Vector256.Create(sc16, sc16).AsByte();
            byte* q = wb->Qs;
            sbyte* y = xb->Qs;
            // Lanes 0..7: Qs[0..31] (sub-blocks 0, 1) and Qs[64..95] (4, 5); lanes 8..15: Qs[32..63] (2, 3), Qs[96..127] (6, 7).
            var iLo = Q4KHalf(q, y, y + 64, low, Avx2.Shuffle(scales, s_word0).AsInt16(), Avx2.Shuffle(scales, s_word1).AsInt16())
                    + Q4KHalf(q + 64, y + 128, y + 192, low, Avx2.Shuffle(scales, s_word4).AsInt16(), Avx2.Shuffle(scales, s_word5).AsInt16());
            var iHi = Q4KHalf(q + 32, y + 32, y + 96, low, Avx2.Shuffle(scales, s_word2).AsInt16(), Avx2.Shuffle(scales, s_word3).AsInt16())
                    + Q4KHalf(q + 96, y + 160, y + 224, low, Avx2.Shuffle(scales, s_word6).AsInt16(), Avx2.Shuffle(scales, s_word7).AsInt16());
            lo = Fma.MultiplyAdd(Avx.ConvertToVector256Single(iLo), d, lo);
            hi = Fma.MultiplyAdd(Avx.ConvertToVector256Single(iHi), d, hi);
            var m = Sse2.ConvertToVector128Single(Sse2.MultiplyAddAdjacent(Vector128.Load(xb->BSums), mins));
            macc = Fma.MultiplyAdd(m, Vector128.Create(s.GetElement(1)), macc);
        }
        return Sum16(lo, hi) - Sum4(macc);
    }

    /// <summary>32 bytes of nibbles: low nibbles against <paramref name="yLow"/> (scale s0), high nibbles against <paramref name="yHigh"/> (s1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q4KHalf(byte* q, sbyte* yLow, sbyte* yHigh, Vector256<byte> low, Vector256<short> s0, Vector256<short> s1)
    {
        var qv = Vector256.Load(q);
        var lo = qv & low;
        var hi = Avx2.ShiftRightLogical(qv.AsUInt16(), 4).AsByte() & low;
        var p = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(lo, Vector256.Load(yLow)), s0);
        return AddScaledPairs(p, Avx2.MultiplyAddAdjacent(hi, Vector256.Load(yHigh)), s1);
    }

    /// <summary>Without SIMD: per super-block the integer sums, scaled and added in order (natural activation layout).</summary>
    private static float DotQ4KScalar(BlockQ4_K* w, BlockQ8_K* x, int nb)
    {
        float sum = 0;
        for (int b = 0; b < nb; b++)
        {
            BlockQ4_K* wb = w + b;
            BlockQ8_K* xb = x + b;
            BlockQuantizer.UnpackQ4KScales(wb->Scales, out ulong sc, out ulong mn);
            int sumi = 0, summ = 0;
            for (int g = 0; g < 4; g++)
            {
                int dotLo = 0, dotHi = 0;
                for (int l = 0; l < 32; l++)
                {
                    byte qv = wb->Qs[32 * g + l];
                    dotLo += (qv & 0xF) * xb->Qs[64 * g + l];
                    dotHi += (qv >> 4) * xb->Qs[64 * g + 32 + l];
                }
                sumi += (byte)(sc >> (16 * g)) * dotLo + (byte)(sc >> (16 * g + 8)) * dotHi;
            }
            for (int j = 0; j < 8; j++) summ += (byte)(mn >> (8 * j)) * (xb->BSums[2 * j] + xb->BSums[2 * j + 1]);
            sum += Fp16Codec.ToSingle(wb->D) * xb->D * sumi - Fp16Codec.ToSingle(wb->DMin) * xb->D * summ;
        }
        return sum;
    }
}
