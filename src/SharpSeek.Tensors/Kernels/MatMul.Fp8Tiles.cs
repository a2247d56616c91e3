using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpSeek.Tensors.Kernels;

// FP8 micro-kernels on the arithmetic widening (no VBMI, or K not whole 64-column groups). Two 16-lane accumulators
// per output: the 128-column block's partial and the running total it is folded into with the block's scale, so at most
// eight outputs fit the registers of one tile.
public static unsafe partial class MatMul
{
    private static void Fp8Tile512<TA, TW>(byte* w, long stride, float* x, int ldx, int k, float* y, int ldy,
        float* s0, float* s1, float* s2, float* s3) where TA : struct, IRowCount where TW : struct, IRowCount
    {
        if (TA.Count * TW.Count > 8) throw new UnreachableException();
        byte* w0 = w, w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride;
        float* x0 = x, x1 = x + ldx, x2 = x + 2 * ldx, x3 = x + 3 * ldx;
        Vector512<float> tail0 = default, tail1 = default, tail2 = default, tail3 = default; // as in FloatTile512
        int kv = k & ~15;
        if (kv < k)
        {
            PadTail<Fp8Row>(w0, kv, k, (byte*)&tail0);
            if (TW.Count > 1) PadTail<Fp8Row>(w1, kv, k, (byte*)&tail1);
            if (TW.Count > 2) PadTail<Fp8Row>(w2, kv, k, (byte*)&tail2);
            if (TW.Count > 3) PadTail<Fp8Row>(w3, kv, k, (byte*)&tail3);
        }
        Vector512<float> t00 = default, t01 = default, t02 = default, t03 = default, t10 = default, t11 = default, t12 = default, t13 = default;
        Vector512<float> t20 = default, t21 = default, t22 = default, t23 = default, t30 = default, t31 = default, t32 = default, t33 = default;
        for (int c0 = 0, b = 0; c0 < k; c0 += Tensor.Fp8BlockSize, b++)
        {
            int c1 = Math.Min(k, c0 + Tensor.Fp8BlockSize);
            Vector512<float> p00 = default, p01 = default, p02 = default, p03 = default, p10 = default, p11 = default, p12 = default, p13 = default;
            Vector512<float> p20 = default, p21 = default, p22 = default, p23 = default, p30 = default, p31 = default, p32 = default, p33 = default;
            for (int c = c0; c < c1; c += 16)
            {
                bool tail = c == kv; // only the last block can be ragged; activations are zero-padded by the caller
                var v0 = Fp8Row.Load16(tail ? (byte*)&tail0 : w0 + c, 0);
                var v1 = TW.Count > 1 ? Fp8Row.Load16(tail ? (byte*)&tail1 : w1 + c, 0) : default;
                var v2 = TW.Count > 2 ? Fp8Row.Load16(tail ? (byte*)&tail2 : w2 + c, 0) : default;
                var v3 = TW.Count > 3 ? Fp8Row.Load16(tail ? (byte*)&tail3 : w3 + c, 0) : default;
                Fma4<TW>(ref p00, ref p01, ref p02, ref p03, v0, v1, v2, v3, Vector512.Load(x0 + c));
                if (TA.Count > 1) Fma4<TW>(ref p10, ref p11, ref p12, ref p13, v0, v1, v2, v3, Vector512.Load(x1 + c));
                if (TA.Count > 2) Fma4<TW>(ref p20, ref p21, ref p22, ref p23, v0, v1, v2, v3, Vector512.Load(x2 + c));
                if (TA.Count > 3) Fma4<TW>(ref p30, ref p31, ref p32, ref p33, v0, v1, v2, v3, Vector512.Load(x3 + c));
            }
            var q0 = Vector512.Create(s0[b]);
            var q1 = TW.Count > 1 ? Vector512.Create(s1[b]) : default;
            var q2 = TW.Count > 2 ? Vector512.Create(s2[b]) : default;
            var q3 = TW.Count > 3 ? Vector512.Create(s3[b]) : default;
            Fold4<TW>(ref t00, ref t01, ref t02, ref t03, p00, p01, p02, p03, q0, q1, q2, q3);
            if (TA.Count > 1) Fold4<TW>(ref t10, ref t11, ref t12, ref t13, p10, p11, p12, p13, q0, q1, q2, q3);
            if (TA.Count > 2) Fold4<TW>(ref t20, ref t21, ref t22, ref t23, p20, p21, p22, p23, q0, q1, q2, q3);
            if (TA.Count > 3) Fold4<TW>(ref t30, ref t31, ref t32, ref t33, p30, p31, p32, p33, q0, q1, q2, q3);
        }
        Store4<TW>(y, t00, t01, t02, t03);
        if (TA.Count > 1) Store4<TW>(y + ldy, t10, t11, t12, t13);
        if (TA.Count > 2) Store4<TW>(y + 2 * ldy, t20, t21, t22, t23);
        if (TA.Count > 3) Store4<TW>(y + 3 * ldy, t30, t31, t32, t33);
    }

    /// <summary>Folds four block partials into their totals: t = fma(p, scale, t).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fold4<TW>(ref Vector512<float> t0, ref Vector512<float> t1, ref Vector512<float> t2, ref Vector512<float> t3,
        Vector512<float> p0, Vector512<float> p1, Vector512<float> p2, Vector512<float> p3,
        Vector512<float> q0, Vector512<float> q1, Vector512<float> q2, Vector512<float> q3) where TW : struct, IRowCount
    {
        t0 = Avx512F.FusedMultiplyAdd(p0, q0, t0);
        if (TW.Count > 1) t1 = Avx512F.FusedMultiplyAdd(p1, q1, t1);
        if (TW.Count > 2) t2 = Avx512F.FusedMultiplyAdd(p2, q2, t2);
        if (TW.Count > 3) t3 = Avx512F.FusedMultiplyAdd(p3, q3, t3);
    }

    /// <summary>The 256-bit FP8 kernel (up to 2 × 2): partials and totals as ymm pairs (lanes 0..7, 8..15).</summary>
    private static void Fp8Tile256<TA, TW>(byte* w, long stride, float* x, int ldx, int k, float* y, int ldy,
        float* s0, float* s1, float* s2, float* s3) where TA : struct, IRowCount where TW : struct, IRowCount
    {
        if (TA.Count > 2 || TW.Count > 2) throw new UnreachableException();
        byte* w0 = w, w1 = w + stride;
        float* x0 = x, x1 = x + ldx;
        Vector512<float> tail0 = default, tail1 = default; // as in FloatTile512
        int kv = k & ~15;
        if (kv < k)
        {
            PadTail<Fp8Row>(w0, kv, k, (byte*)&tail0);
            if (TW.Count > 1) PadTail<Fp8Row>(w1, kv, k, (byte*)&tail1);
        }
        Vector256<float> tl00 = default, th00 = default, tl01 = default, th01 = default, tl10 = default, th10 = default, tl11 = default, th11 = default;
        for (int c0 = 0, b = 0; c0 < k; c0 += Tensor.Fp8BlockSize, b++)
        {
            int c1 = Math.Min(k, c0 + Tensor.Fp8BlockSize);
            Vector256<float> pl00 = default, ph00 = default, pl01 = default, ph01 = default, pl10 = default, ph10 = default, pl11 = default, ph11 = default;
            for (int c = c0; c < c1; c += 16)
            {
                bool tail = c == kv;
                byte* r0 = tail ? (byte*)&tail0 : w0 + c;
                var vl = Fp8Row.Load8(r0, 0);
                var vh = Fp8Row.Load8(r0, 8);
                var xl = Vector256.Load(x0 + c);
                var xh = Vector256.Load(x0 + c + 8);
                pl00 = Fma.MultiplyAdd(vl, xl, pl00); ph00 = Fma.MultiplyAdd(vh, xh, ph00);
                if (TA.Count > 1) { pl10 = Fma.MultiplyAdd(vl, Vector256.Load(x1 + c), pl10); ph10 = Fma.MultiplyAdd(vh, Vector256.Load(x1 + c + 8), ph10); }
                if (TW.Count > 1)
                {
                    byte* r1 = tail ? (byte*)&tail1 : w1 + c;
                    vl = Fp8Row.Load8(r1, 0);
                    vh = Fp8Row.Load8(r1, 8);
                    pl01 = Fma.MultiplyAdd(vl, xl, pl01); ph01 = Fma.MultiplyAdd(vh, xh, ph01);
                    if (TA.Count > 1) { pl11 = Fma.MultiplyAdd(vl, Vector256.Load(x1 + c), pl11); ph11 = Fma.MultiplyAdd(vh, Vector256.Load(x1 + c + 8), ph11); }
                }
            }
            var q0 = Vector256.Create(s0[b]);
            tl00 = Fma.MultiplyAdd(pl00, q0, tl00); th00 = Fma.MultiplyAdd(ph00, q0, th00);
            if (TA.Count > 1) { tl10 = Fma.MultiplyAdd(pl10, q0, tl10); th10 = Fma.MultiplyAdd(ph10, q0, th10); }
            if (TW.Count > 1)
            {
                var q1 = Vector256.Create(s1[b]);
                tl01 = Fma.MultiplyAdd(pl01, q1, tl01); th01 = Fma.MultiplyAdd(ph01, q1, th01);
                if (TA.Count > 1) { tl11 = Fma.MultiplyAdd(pl11, q1, tl11); th11 = Fma.MultiplyAdd(ph11, q1, th11); }
            }
        }
        y[0] = Sum16(tl00, th00);
        if (TW.Count > 1) y[1] = Sum16(tl01, th01);
        if (TA.Count > 1)
        {
            y[ldy] = Sum16(tl10, th10);
            if (TW.Count > 1) y[ldy + 1] = Sum16(tl11, th11);
        }
    }
}
