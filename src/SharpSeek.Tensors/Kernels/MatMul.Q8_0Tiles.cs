using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Quantization;

namespace SharpSeek.Tensors.Kernels;

// Q8_0 / Q4_0 micro-kernels (the canonical order is in MatMul.Q8_0.cs). Each weight block pair is loaded, unpacked to
// signed codes, split into |codes| and a sign mask, and its scales widened once per tile, then applied to every
// activation row of the tile.
public static unsafe partial class MatMul
{
    /// <summary>The vpermps control that spreads scales 0 and 1 of an 8-scale vector over lanes 0..7 and 8..15 (add t for t, t+1).</summary>
    private static readonly Vector512<int> s_scalePair = Vector512.Create(Vector256.Create(0), Vector256.Create(1));

    /// <param name="act">activation rows of <paramref name="actStride"/> bytes in steps of <see cref="Q8ActStep"/>.</param>
    private static void Q8Tile512<TC, TA, TW>(byte* w, long stride, byte* act, long actStride, int nb, float* y, int ldy)
        where TC : struct, IQ8Codes where TA : struct, IRowCount where TW : struct, IRowCount
    {
        int bb = TC.BlockBytes;
        byte* w0 = w, w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride;
        byte* x0 = act, x1 = act + actStride, x2 = act + 2 * actStride, x3 = act + 3 * actStride;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        Vector512<float> h0 = default, h1 = default, h2 = default, h3 = default;
        int full = nb & ~7;
        for (int b = 0; b < nb; b += 2)
        {
            long ow = (long)b * bb, oq = 96L * b;
            // Scales of blocks b and b+1 over lanes 0..7 and 8..15. In whole groups of eight blocks the fp16 scales are
            // widened eight at a time per weight row (h·) and spread by a permute; after that one by one. With an odd
            // block count the last block pairs with the zero block the activations are padded with (its lanes add
            // fma(0, 0, acc) = acc), and no weight is read for it.
            Vector512<float> s0, s1 = default, s2 = default, s3 = default;
            bool single = b + 1 == nb;
            if (b < full)
            {
                if ((b & 7) == 0)
                {
                    h0 = HalfScales8(w0 + ow, bb).ToVector512Unsafe();
                    if (TW.Count > 1) h1 = HalfScales8(w1 + ow, bb).ToVector512Unsafe();
                    if (TW.Count > 2) h2 = HalfScales8(w2 + ow, bb).ToVector512Unsafe();
                    if (TW.Count > 3) h3 = HalfScales8(w3 + ow, bb).ToVector512Unsafe();
                }
                var idx = s_scalePair + Vector512.Create(b & 7);
                s0 = Avx512F.PermuteVar16x32(h0, idx);
                if (TW.Count > 1) s1 = Avx512F.PermuteVar16x32(h1, idx);
                if (TW.Count > 2) s2 = Avx512F.PermuteVar16x32(h2, idx);
                if (TW.Count > 3) s3 = Avx512F.PermuteVar16x32(h3, idx);
            }
            else
            {
                s0 = ScalePair(w0 + ow, bb, single);
                if (TW.Count > 1) s1 = ScalePair(w1 + ow, bb, single);
                if (TW.Count > 2) s2 = ScalePair(w2 + ow, bb, single);
                if (TW.Count > 3) s3 = ScalePair(w3 + ow, bb, single);
            }
            // |w| is the unsigned operand of vpmaddubsw; w's sign goes onto x (a blend under the mask w < 0).
            var c0 = single ? TC.Codes(w0 + ow).ToVector512() : TC.Codes2(w0 + ow);
            var c1 = TW.Count > 1 ? single ? TC.Codes(w1 + ow).ToVector512() : TC.Codes2(w1 + ow) : default;
            var c2 = TW.Count > 2 ? single ? TC.Codes(w2 + ow).ToVector512() : TC.Codes2(w2 + ow) : default;
            var c3 = TW.Count > 3 ? single ? TC.Codes(w3 + ow).ToVector512() : TC.Codes2(w3 + ow) : default;
            Q8Split<TC>(c0, out var u0, out var n0);
            Vector512<byte> u1 = default, u2 = default, u3 = default;
            Vector512<sbyte> n1 = default, n2 = default, n3 = default;
            if (TW.Count > 1) Q8Split<TC>(c1, out u1, out n1);
            if (TW.Count > 2) Q8Split<TC>(c2, out u2, out n2);
            if (TW.Count > 3) Q8Split<TC>(c3, out u3, out n3);
            Q8Row512<TC, TW>(ref a00, ref a01, ref a02, ref a03, u0, u1, u2, u3, n0, n1, n2, n3, s0, s1, s2, s3, x0 + oq);
            if (TA.Count > 1) Q8Row512<TC, TW>(ref a10, ref a11, ref a12, ref a13, u0, u1, u2, u3, n0, n1, n2, n3, s0, s1, s2, s3, x1 + oq);
            if (TA.Count > 2) Q8Row512<TC, TW>(ref a20, ref a21, ref a22, ref a23, u0, u1, u2, u3, n0, n1, n2, n3, s0, s1, s2, s3, x2 + oq);
            if (TA.Count > 3) Q8Row512<TC, TW>(ref a30, ref a31, ref a32, ref a33, u0, u1, u2, u3, n0, n1, n2, n3, s0, s1, s2, s3, x3 + oq);
        }
        Store4<TW>(y, a00, a01, a02, a03);
        if (TA.Count > 1) Store4<TW>(y + ldy, a10, a11, a12, a13);
        if (TA.Count > 2) Store4<TW>(y + 2 * ldy, a20, a21, a22, a23);
        if (TA.Count > 3) Store4<TW>(y + 3 * ldy, a30, a31, a32, a33);
    }

    /// <summary>The scales of the block at <paramref name="p"/> and the next (0 when <paramref name="single"/>) over lanes 0..7 and 8..15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ScalePair(byte* p, int stride, bool single)
        => Vector512.Create(Vector256.Create(Fp16Codec.ToSingle(*(ushort*)p)), single ? default : Vector256.Create(Fp16Codec.ToSingle(*(ushort*)(p + stride))));

    /// <summary>The unsigned vpmaddubsw operand of 64 codes and, for signed codes, the mask of negative ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q8Split<TC>(Vector512<sbyte> codes, out Vector512<byte> u, out Vector512<sbyte> negative) where TC : struct, IQ8Codes
    {
        if (TC.Unsigned) { u = codes.AsByte(); negative = default; }
        else { u = Avx512BW.Abs(codes); negative = Vector512.LessThan(codes, Vector512<sbyte>.Zero); }
    }

    /// <summary>
    /// One activation row's step against up to four weight rows: <paramref name="x"/> points at the row's step (quants,
    /// negations or lane offsets, 8-fold scales). This is where every 512-bit Q8_0/Q4_0 kernel does its per-output
    /// arithmetic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q8Row512<TC, TW>(ref Vector512<float> a0, ref Vector512<float> a1, ref Vector512<float> a2, ref Vector512<float> a3,
        Vector512<byte> u0, Vector512<byte> u1, Vector512<byte> u2, Vector512<byte> u3,
        Vector512<sbyte> n0, Vector512<sbyte> n1, Vector512<sbyte> n2, Vector512<sbyte> n3,
        Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, Vector512<float> s3, byte* x) where TC : struct, IQ8Codes where TW : struct, IRowCount
    {
        var q = Vector512.Load((sbyte*)x);
        var dx = Vector512.Load((float*)(x + 128));
        if (TC.Unsigned)
        {
            var offset = Vector512.Load((int*)(x + 64));
            a0 = Q4Fma512(a0, u0, q, offset, s0 * dx);
            if (TW.Count > 1) a1 = Q4Fma512(a1, u1, q, offset, s1 * dx);
            if (TW.Count > 2) a2 = Q4Fma512(a2, u2, q, offset, s2 * dx);
            if (TW.Count > 3) a3 = Q4Fma512(a3, u3, q, offset, s3 * dx);
            return;
        }
        var neg = Vector512.Load((sbyte*)(x + 64));
        a0 = Q8Fma512(a0, u0, Avx512BW.BlendVariable(q, neg, n0), s0 * dx);
        if (TW.Count > 1) a1 = Q8Fma512(a1, u1, Avx512BW.BlendVariable(q, neg, n1), s1 * dx);
        if (TW.Count > 2) a2 = Q8Fma512(a2, u2, Avx512BW.BlendVariable(q, neg, n2), s2 * dx);
        if (TW.Count > 3) a3 = Q8Fma512(a3, u3, Avx512BW.BlendVariable(q, neg, n3), s3 * dx);
    }

    /// <summary>Bytes per block pair of a packed weight row: |codes|, sign (0xFF where the code is negative), 16 scales.</summary>
    private const int Q8PackedStep = 192;
    /// <summary>A packed tile stays well inside L2 next to the activations streaming past it.</summary>
    private const long Q8PackedTileBytes = 384 * 1024;

    /// <summary>
    /// Unpacks <paramref name="rows"/> weight rows into <paramref name="dst"/> (rows of ⌈nb/2⌉ steps of
    /// <see cref="Q8PackedStep"/> bytes) exactly as <see cref="Q8Tile512{TC, TA, TW}"/> decodes them in registers, so the
    /// packed kernel computes the same bits; an odd last block pairs with zeros.
    /// </summary>
    private static void PackQ8Tile<TC>(byte* w, long stride, int rows, int nb, byte* dst) where TC : struct, IQ8Codes
    {
        int bb = TC.BlockBytes;
        for (int r = 0; r < rows; r++, w += stride)
            for (int b = 0; b < nb; b += 2, dst += Q8PackedStep)
            {
                bool single = b + 1 == nb;
                byte* p = w + (long)b * bb;
                Q8Split<TC>(single ? TC.Codes(p).ToVector512() : TC.Codes2(p), out var u, out var negative);
                u.Store(dst);
                negative.Store((sbyte*)(dst + 64));
                ScalePair(p, bb, single).Store((float*)(dst + 128));
            }
    }

    /// <summary>The 512-bit kernel over a packed tile: up to 4 activation rows × 4 packed weight rows.</summary>
    private static void Q8PackedTile512<TC, TA, TW>(byte* pw, long packedRow, byte* act, long actStride, int steps, float* y, int ldy)
        where TC : struct, IQ8Codes where TA : struct, IRowCount where TW : struct, IRowCount
    {
        byte* w0 = pw, w1 = pw + packedRow, w2 = pw + 2 * packedRow, w3 = pw + 3 * packedRow;
        byte* x0 = act, x1 = act + actStride, x2 = act + 2 * actStride, x3 = act + 3 * actStride;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        for (int t = 0; t < steps; t++)
        {
            long ow = (long)t * Q8PackedStep, oq = (long)t * Q8ActStep;
            var u0 = Vector512.Load(w0 + ow);
            var n0 = Vector512.Load((sbyte*)(w0 + ow + 64));
            var s0 = Vector512.Load((float*)(w0 + ow + 128));
            Vector512<byte> u1 = default, u2 = default, u3 = default;
            Vector512<sbyte> n1 = default, n2 = default, n3 = default;
            Vector512<float> s1 = default, s2 = default, s3 = default;
            if (TW.Count > 1) { u1 = Vector512.Load(w1 + ow); n1 = Vector512.Load((sbyte*)(w1 + ow + 64)); s1 = Vector512.Load((float*)(w1 + ow + 128)); }
            if (TW.Count > 2) { u2 = Vector512.Load(w2 + ow); n2 = Vector512.Load((sbyte*)(w2 + ow + 64)); s2 = Vector512.Load((float*)(w2 + ow + 128)); }
            if (TW.Count > 3) { u3 = Vector512.Load(w3 + ow); n3 = Vector512.Load((sbyte*)(w3 + ow + 64)); s3 = Vector512.Load((float*)(w3 + ow + 128)); }
            Q8Row512<TC, TW>(ref a00, ref a01, ref a02, ref a03, u0, u1, u2, u3, n0, n1, n2, n3, s0, s1, s2, s3, x0 + oq);
            if (TA.Count > 1) Q8Row512<TC, TW>(ref a10, ref a11, ref a12, ref a13, u0, u1, u2, u3, n0, n1, n2, n3, s0, s1, s2, s3, x1 + oq);
            if (TA.Count > 2) Q8Row512<TC, TW>(ref a20, ref a21, ref a22, ref a23, u0, u1, u2, u3, n0, n1, n2, n3, s0, s1, s2, s3, x2 + oq);
            if (TA.Count > 3) Q8Row512<TC, TW>(ref a30, ref a31, ref a32, ref a33, u0, u1, u2, u3, n0, n1, n2, n3, s0, s1, s2, s3, x3 + oq);
        }
        Store4<TW>(y, a00, a01, a02, a03);
        if (TA.Count > 1) Store4<TW>(y + ldy, a10, a11, a12, a13);
        if (TA.Count > 2) Store4<TW>(y + 2 * ldy, a20, a21, a22, a23);
        if (TA.Count > 3) Store4<TW>(y + 3 * ldy, a30, a31, a32, a33);
    }

    /// <summary>Q4_0: acc + float(P)·scale, P = Σ of four nibble·x products + the lane's −8·Σx (two blocks of eight lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Q4Fma512(Vector512<float> acc, Vector512<byte> u, Vector512<sbyte> x, Vector512<int> offset, Vector512<float> scale)
    {
        var p = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, x), Vector512.Create((short)1)) + offset;
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(p), scale, acc);
    }

    /// <summary>acc + float(P)·scale, P the sixteen int32 sums of four u8·s8 products (two blocks of eight lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Q8Fma512(Vector512<float> acc, Vector512<byte> u, Vector512<sbyte> sx, Vector512<float> scale)
    {
        // |w| ≤ 128 and |x| ≤ 127: a pair of products stays inside int16 (no vpmaddubsw saturation).
        var p = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, sx), Vector512.Create((short)1));
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(p), scale, acc);
    }

    /// <summary>
    /// The 256-bit kernel (up to 2 × 2): one block per step, even blocks into the ymm of lanes 0..7 (l··) and odd
    /// blocks into lanes 8..15 (h··) of each output's 16-lane accumulator.
    /// </summary>
    private static void Q8Tile256<TC, TA, TW>(byte* w, long stride, byte* act, long actStride, int nb, float* y, int ldy)
        where TC : struct, IQ8Codes where TA : struct, IRowCount where TW : struct, IRowCount
    {
        if (TA.Count > 2 || TW.Count > 2) throw new UnreachableException();
        int bb = TC.BlockBytes;
        byte* w0 = w, w1 = w + stride;
        byte* x0 = act, x1 = act + actStride;
        Vector256<float> l00 = default, h00 = default, l01 = default, h01 = default, l10 = default, h10 = default, l11 = default, h11 = default;
        int b = 0;
        for (; b + 8 <= nb; b += 8)
        {
            var s0 = HalfScales8(w0 + (long)b * bb, bb);
            var s1 = TW.Count > 1 ? HalfScales8(w1 + (long)b * bb, bb) : default;
            for (int t = 0; t < 8; t += 2)
            {
                var even = Vector256.Create(t);
                var odd = Vector256.Create(t + 1);
                long ow = (long)(b + t) * bb, ox = 96L * (b + t);
                Q8Step256<TC, TA, TW>(ref l00, ref l01, ref l10, ref l11, w0 + ow, w1 + ow, x0 + ox, x1 + ox,
                    Avx2.PermuteVar8x32(s0, even), Avx2.PermuteVar8x32(s1, even));
                Q8Step256<TC, TA, TW>(ref h00, ref h01, ref h10, ref h11, w0 + ow + bb, w1 + ow + bb, x0 + ox + 32, x1 + ox + 32,
                    Avx2.PermuteVar8x32(s0, odd), Avx2.PermuteVar8x32(s1, odd));
            }
        }
        for (; b < nb; b += 2)
        {
            long ow = (long)b * bb, ox = 96L * b;
            Q8Step256<TC, TA, TW>(ref l00, ref l01, ref l10, ref l11, w0 + ow, w1 + ow, x0 + ox, x1 + ox,
                Vector256.Create(Fp16Codec.ToSingle(*(ushort*)(w0 + ow))), TW.Count > 1 ? Vector256.Create(Fp16Codec.ToSingle(*(ushort*)(w1 + ow))) : default);
            if (b + 1 == nb) break;
            ow += bb;
            Q8Step256<TC, TA, TW>(ref h00, ref h01, ref h10, ref h11, w0 + ow, w1 + ow, x0 + ox + 32, x1 + ox + 32,
                Vector256.Create(Fp16Codec.ToSingle(*(ushort*)(w0 + ow))), TW.Count > 1 ? Vector256.Create(Fp16Codec.ToSingle(*(ushort*)(w1 + ow))) : default);
        }
        y[0] = Sum16(l00, h00);
        if (TW.Count > 1) y[1] = Sum16(l01, h01);
        if (TA.Count > 1)
        {
            y[ldy] = Sum16(l10, h10);
            if (TW.Count > 1) y[ldy + 1] = Sum16(l11, h11);
        }
    }

    /// <summary>One block of up to two weight rows against up to two activation rows (8 lanes each).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    /// <param name="x0">the block's 32 quants in activation row 0 (its 8-fold scale 128 bytes on); likewise <paramref name="x1"/>.</param>
    private static void Q8Step256<TC, TA, TW>(ref Vector256<float> a00, ref Vector256<float> a01, ref Vector256<float> a10, ref Vector256<float> a11,
        byte* w0, byte* w1, byte* x0, byte* x1, Vector256<float> s0, Vector256<float> s1)
        where TC : struct, IQ8Codes where TA : struct, IRowCount where TW : struct, IRowCount
    {
        var c0 = TC.Codes(w0);
        var c1 = TW.Count > 1 ? TC.Codes(w1) : default;
        var x = Vector256.Load((sbyte*)x0);
        var dx = Vector256.Load((float*)(x0 + 128));
        if (TC.Unsigned)
        {
            a00 = Q4Fma256(a00, c0.AsByte(), x, Vector256.Load((int*)(x0 + 64)), s0 * dx);
            if (TW.Count > 1) a01 = Q4Fma256(a01, c1.AsByte(), x, Vector256.Load((int*)(x0 + 64)), s1 * dx);
            if (TA.Count > 1)
            {
                x = Vector256.Load((sbyte*)x1);
                dx = Vector256.Load((float*)(x1 + 128));
                a10 = Q4Fma256(a10, c0.AsByte(), x, Vector256.Load((int*)(x1 + 64)), s0 * dx);
                if (TW.Count > 1) a11 = Q4Fma256(a11, c1.AsByte(), x, Vector256.Load((int*)(x1 + 64)), s1 * dx);
            }
            return;
        }
        var u0 = Avx2.Abs(c0);
        var u1 = TW.Count > 1 ? Avx2.Abs(c1) : default;
        a00 = Q8Fma256(a00, u0, Avx2.Sign(x, c0), s0 * dx);
        if (TW.Count > 1) a01 = Q8Fma256(a01, u1, Avx2.Sign(x, c1), s1 * dx);
        if (TA.Count > 1)
        {
            x = Vector256.Load((sbyte*)x1);
            dx = Vector256.Load((float*)(x1 + 128));
            a10 = Q8Fma256(a10, u0, Avx2.Sign(x, c0), s0 * dx);
            if (TW.Count > 1) a11 = Q8Fma256(a11, u1, Avx2.Sign(x, c1), s1 * dx);
        }
    }

    /// <summary>Q4_0: acc + float(P)·scale, P the eight sums of four nibble·x products plus the lane's −8·Σx.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q4Fma256(Vector256<float> acc, Vector256<byte> u, Vector256<sbyte> x, Vector256<int> offset, Vector256<float> scale)
    {
        var p = AvxVnni.IsSupported
            ? AvxVnni.MultiplyWideningAndAdd(offset, u, x)
            : Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, x), Vector256.Create((short)1)) + offset;
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), scale, acc);
    }

    /// <summary>acc + float(P)·scale, P the eight int32 sums of four |w|·(±x) products of one block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q8Fma256(Vector256<float> acc, Vector256<byte> u, Vector256<sbyte> sx, Vector256<float> scale)
    {
        // vpdpbusd sums the same four products per lane as vpmaddubsw + vpmaddwd, so both give the same integers.
        var p = AvxVnni.IsSupported
            ? AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, sx)
            : Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, sx), Vector256.Create((short)1));
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(p), scale, acc);
    }
}
