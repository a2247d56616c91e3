using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpSeek.Tensors.Kernels;

// The float micro-kernels: up to 4 activation rows × 4 weight rows, one 16-lane accumulator per output (FP8: a block
// partial and a total). Every weight vector is widened once and meets every activation row of the tile; every output
// runs the canonical order of MatMul.FloatWeights.cs whatever the tile shape.
public static unsafe partial class MatMul
{
    private static void FloatTile512<TRow, TA, TW>(byte* w, long stride, float* x, int ldx, int k, float* y, int ldy)
        where TRow : struct, IFloatWeightRow where TA : struct, IRowCount where TW : struct, IRowCount
    {
        byte* w0 = w, w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride;
        float* x0 = x, x1 = x + ldx, x2 = x + 2 * ldx, x3 = x + 3 * ldx;
        // The ragged last vector's weights, zero-padded before any accumulator is live (the copies are helper calls,
        // and a call across live accumulators would make the JIT keep them in memory).
        Vector512<float> tail0 = default, tail1 = default, tail2 = default, tail3 = default;
        int kv = k & ~15;
        if (kv < k)
        {
            PadTail<TRow>(w0, kv, k, (byte*)&tail0);
            if (TW.Count > 1) PadTail<TRow>(w1, kv, k, (byte*)&tail1);
            if (TW.Count > 2) PadTail<TRow>(w2, kv, k, (byte*)&tail2);
            if (TW.Count > 3) PadTail<TRow>(w3, kv, k, (byte*)&tail3);
        }
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        int c = 0;
        for (; c < kv; c += 16)
        {
            var v0 = TRow.Load16(w0, c);
            var v1 = TW.Count > 1 ? TRow.Load16(w1, c) : default;
            var v2 = TW.Count > 2 ? TRow.Load16(w2, c) : default;
            var v3 = TW.Count > 3 ? TRow.Load16(w3, c) : default;
            Fma4<TW>(ref a00, ref a01, ref a02, ref a03, v0, v1, v2, v3, Vector512.Load(x0 + c));
            if (TA.Count > 1) Fma4<TW>(ref a10, ref a11, ref a12, ref a13, v0, v1, v2, v3, Vector512.Load(x1 + c));
            if (TA.Count > 2) Fma4<TW>(ref a20, ref a21, ref a22, ref a23, v0, v1, v2, v3, Vector512.Load(x2 + c));
            if (TA.Count > 3) Fma4<TW>(ref a30, ref a31, ref a32, ref a33, v0, v1, v2, v3, Vector512.Load(x3 + c));
        }
        if (c < k)
        {
            // Activations are zero-padded by the caller.
            var v0 = TRow.Load16((byte*)&tail0, 0);
            var v1 = TW.Count > 1 ? TRow.Load16((byte*)&tail1, 0) : default;
            var v2 = TW.Count > 2 ? TRow.Load16((byte*)&tail2, 0) : default;
            var v3 = TW.Count > 3 ? TRow.Load16((byte*)&tail3, 0) : default;
            Fma4<TW>(ref a00, ref a01, ref a02, ref a03, v0, v1, v2, v3, Vector512.Load(x0 + c));
            if (TA.Count > 1) Fma4<TW>(ref a10, ref a11, ref a12, ref a13, v0, v1, v2, v3, Vector512.Load(x1 + c));
            if (TA.Count > 2) Fma4<TW>(ref a20, ref a21, ref a22, ref a23, v0, v1, v2, v3, Vector512.Load(x2 + c));
            if (TA.Count > 3) Fma4<TW>(ref a30, ref a31, ref a32, ref a33, v0, v1, v2, v3, Vector512.Load(x3 + c));
        }
        Store4<TW>(y, a00, a01, a02, a03);
        if (TA.Count > 1) Store4<TW>(y + ldy, a10, a11, a12, a13);
        if (TA.Count > 2) Store4<TW>(y + 2 * ldy, a20, a21, a22, a23);
        if (TA.Count > 3) Store4<TW>(y + 3 * ldy, a30, a31, a32, a33);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fma4<TW>(ref Vector512<float> a0, ref Vector512<float> a1, ref Vector512<float> a2, ref Vector512<float> a3,
        Vector512<float> w0, Vector512<float> w1, Vector512<float> w2, Vector512<float> w3, Vector512<float> x) where TW : struct, IRowCount
    {
        a0 = Avx512F.FusedMultiplyAdd(w0, x, a0);
        if (TW.Count > 1) a1 = Avx512F.FusedMultiplyAdd(w1, x, a1);
        if (TW.Count > 2) a2 = Avx512F.FusedMultiplyAdd(w2, x, a2);
        if (TW.Count > 3) a3 = Avx512F.FusedMultiplyAdd(w3, x, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4<TW>(float* y, Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3) where TW : struct, IRowCount
    {
        y[0] = Sum16(a0);
        if (TW.Count > 1) y[1] = Sum16(a1);
        if (TW.Count > 2) y[2] = Sum16(a2);
        if (TW.Count > 3) y[3] = Sum16(a3);
    }
    /// <summary>The 256-bit kernel (up to 2 activation rows): each 16-lane accumulator is two ymm, lanes 0..7 and 8..15.</summary>
    private static void FloatTile256<TRow, TA, TW>(byte* w, long stride, float* x, int ldx, int k, float* y, int ldy)
        where TRow : struct, IFloatWeightRow where TA : struct, IRowCount where TW : struct, IRowCount
    {
        if (TA.Count > 2) throw new UnreachableException();
        byte* w0 = w, w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride;
        float* x0 = x, x1 = x + ldx;
        Vector512<float> tail0 = default, tail1 = default, tail2 = default, tail3 = default; // as in FloatTile512
        int kv = k & ~15;
        if (kv < k)
        {
            PadTail<TRow>(w0, kv, k, (byte*)&tail0);
            if (TW.Count > 1) PadTail<TRow>(w1, kv, k, (byte*)&tail1);
            if (TW.Count > 2) PadTail<TRow>(w2, kv, k, (byte*)&tail2);
            if (TW.Count > 3) PadTail<TRow>(w3, kv, k, (byte*)&tail3);
        }
        Vector256<float> l00 = default, h00 = default, l01 = default, h01 = default, l02 = default, h02 = default, l03 = default, h03 = default;
        Vector256<float> l10 = default, h10 = default, l11 = default, h11 = default, l12 = default, h12 = default, l13 = default, h13 = default;
        for (int c = 0; c < k; c += 16)
        {
            // The ragged last vector reads the padded copies; activations are zero-padded by the caller.
            bool tail = c == kv;
            byte* r0 = tail ? (byte*)&tail0 : w0 + (long)c * TRow.ElementBytes;
            byte* r1 = tail ? (byte*)&tail1 : w1 + (long)c * TRow.ElementBytes;
            byte* r2 = tail ? (byte*)&tail2 : w2 + (long)c * TRow.ElementBytes;
            byte* r3 = tail ? (byte*)&tail3 : w3 + (long)c * TRow.ElementBytes;
            var xl = Vector256.Load(x0 + c);
            var xh = Vector256.Load(x0 + c + 8);
            var vl = TRow.Load8(r0, 0);
            var vh = TRow.Load8(r0, 8);
            l00 = Fma.MultiplyAdd(vl, xl, l00); h00 = Fma.MultiplyAdd(vh, xh, h00);
            if (TA.Count > 1) { l10 = Fma.MultiplyAdd(vl, Vector256.Load(x1 + c), l10); h10 = Fma.MultiplyAdd(vh, Vector256.Load(x1 + c + 8), h10); }
            if (TW.Count > 1)
            {
                vl = TRow.Load8(r1, 0); vh = TRow.Load8(r1, 8);
                l01 = Fma.MultiplyAdd(vl, xl, l01); h01 = Fma.MultiplyAdd(vh, xh, h01);
                if (TA.Count > 1) { l11 = Fma.MultiplyAdd(vl, Vector256.Load(x1 + c), l11); h11 = Fma.MultiplyAdd(vh, Vector256.Load(x1 + c + 8), h11); }
            }
            if (TW.Count > 2)
            {
                vl = TRow.Load8(r2, 0); vh = TRow.Load8(r2, 8);
                l02 = Fma.MultiplyAdd(vl, xl, l02); h02 = Fma.MultiplyAdd(vh, xh, h02);
                if (TA.Count > 1) { l12 = Fma.MultiplyAdd(vl, Vector256.Load(x1 + c), l12); h12 = Fma.MultiplyAdd(vh, Vector256.Load(x1 + c + 8), h12); }
            }
            if (TW.Count > 3)
            {
                vl = TRow.Load8(r3, 0); vh = TRow.Load8(r3, 8);
                l03 = Fma.MultiplyAdd(vl, xl, l03); h03 = Fma.MultiplyAdd(vh, xh, h03);
                if (TA.Count > 1) { l13 = Fma.MultiplyAdd(vl, Vector256.Load(x1 + c), l13); h13 = Fma.MultiplyAdd(vh, Vector256.Load(x1 + c + 8), h13); }
            }
        }
        y[0] = Sum16(l00, h00);
        if (TW.Count > 1) y[1] = Sum16(l01, h01);
        if (TW.Count > 2) y[2] = Sum16(l02, h02);
        if (TW.Count > 3) y[3] = Sum16(l03, h03);
        if (TA.Count > 1)
        {
            y[ldy] = Sum16(l10, h10);
            if (TW.Count > 1) y[ldy + 1] = Sum16(l11, h11);
            if (TW.Count > 2) y[ldy + 2] = Sum16(l12, h12);
            if (TW.Count > 3) y[ldy + 3] = Sum16(l13, h13);
        }
    }
}
