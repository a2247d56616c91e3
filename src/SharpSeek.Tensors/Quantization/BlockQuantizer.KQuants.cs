using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SharpSeek.Tensors.Quantization;

// The 256-element K-quant weight formats (Q4_K, Q6_K).
public static unsafe partial class BlockQuantizer
{
    /// <summary>
    /// Unpacks Q4_K's 12 scale bytes into eight 6-bit scales and eight 6-bit mins, one per byte (sub-block j in byte j).
    /// Sub-blocks 0..3 keep their values in the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); sub-blocks 4..7 keep
    /// their low 4 bits in the nibbles of bytes 8..11 (scale low, min high) and their top 2 bits in bits 6..7 of
    /// bytes 0..3 (scales) and 4..7 (mins). Done on 32-bit words so all eight come out in a handful of ops.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void UnpackQ4KScales(byte* packed, out ulong scales, out ulong mins)
    {
        uint a = Unsafe.ReadUnaligned<uint>(packed), b = Unsafe.ReadUnaligned<uint>(packed + 4), c = Unsafe.ReadUnaligned<uint>(packed + 8);
        uint sLo = a & 0x3F3F3F3Fu;
        uint mLo = b & 0x3F3F3F3Fu;
        uint sHi = (c & 0x0F0F0F0Fu) | (((a >> 6) & 0x03030303u) << 4);
        uint mHi = ((c >> 4) & 0x0F0F0F0Fu) | (((b >> 6) & 0x03030303u) << 4);
        scales = sLo | ((ulong)sHi << 32);
        mins = mLo | ((ulong)mHi << 32);
    }

    /// <summary>Inverse of <see cref="UnpackQ4KScales"/>: eight 6-bit scales and mins into 12 bytes.</summary>
    internal static void PackQ4KScales(ReadOnlySpan<byte> sc, ReadOnlySpan<byte> m, byte* packed)
    {
        for (int j = 0; j < 4; j++)
        {
            packed[j] = (byte)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
            packed[j + 4] = (byte)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
            packed[j + 8] = (byte)((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
        }
    }

    private static void QuantizeQ4_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        var blocks = MemoryMarshal.Cast<byte, BlockQ4_K>(dst);
        Span<float> subScale = stackalloc float[8], subMin = stackalloc float[8];
        Span<byte> sc = stackalloc byte[8], mq = stackalloc byte[8];
        for (int b = 0; b < blocks.Length; b++)
        {
            var x = src.Slice(b * 256, 256);
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++)
            {
                FitScaleMin(x.Slice(j * 32, 32), out subScale[j], out subMin[j]);
                maxScale = MathF.Max(maxScale, subScale[j]);
                maxMin = MathF.Max(maxMin, subMin[j]);
            }
            ushort dh = Fp16Codec.FromSingle(maxScale / 63f), dminh = Fp16Codec.FromSingle(maxMin / 63f);
            float d = Fp16Codec.ToSingle(dh), dmin = Fp16Codec.ToSingle(dminh);
            float id = d > 0 && float.IsFinite(d) ? 1f / d : 0f, idmin = dmin > 0 && float.IsFinite(dmin) ? 1f / dmin : 0f;
            for (int j = 0; j < 8; j++)
            {
                // 6-bit rounding of scale and min can each move the grid by half a code; try the neighbours too.
                RefineQuantizedScaleMin(x.Slice(j * 32, 32), d, dmin,
                    Math.Clamp(RoundToInt(subScale[j] * id), 0, 63), Math.Clamp(RoundToInt(subMin[j] * idmin), 0, 63),
                    out sc[j], out mq[j]);
            }
            ref var blk = ref blocks[b];
            blk.D = dh;
            blk.DMin = dminh;
            fixed (byte* ps = blk.Scales) PackQ4KScales(sc, mq, ps);
            for (int g = 0; g < 4; g++)
            {
                // Final codes against the scales as stored, so decoding reproduces exactly what was fitted.
                float ds0 = d * sc[2 * g], dm0 = dmin * mq[2 * g];
                float ds1 = d * sc[2 * g + 1], dm1 = dmin * mq[2 * g + 1];
                for (int l = 0; l < 32; l++)
                {
                    int lo = ds0 > 0 ? Math.Clamp(RoundToInt((x[64 * g + l] + dm0) / ds0), 0, 15) : 0;
                    int hi = ds1 > 0 ? Math.Clamp(RoundToInt((x[64 * g + 32 + l] + dm1) / ds1), 0, 15) : 0;
                    blk.Qs[32 * g + l] = (byte)(lo | (hi << 4));
                }
            }
        }
    }

    /// <summary>
    /// Least-squares fit of x ≈ s·q − m with q ∈ 0..15, s ≥ 0, m ≥ 0 for one sub-block: tries a small range of grid
    /// densities, refits (s, m) by linear regression on each candidate code assignment, and keeps the lowest squared error.
    /// </summary>
    private static void FitScaleMin(ReadOnlySpan<float> x, out float scale, out float min)
    {
        int n = x.Length;
        float lo = float.MaxValue, hi = float.MinValue;
        foreach (float v in x) { lo = MathF.Min(lo, v); hi = MathF.Max(hi, v); }
        if (lo > 0) lo = 0; // the offset can only pull values down (m ≥ 0)
        if (!(hi > lo)) { scale = 0; min = -lo; return; }
        float bestErr = float.MaxValue;
        scale = (hi - lo) / 15f;
        min = -lo;
        for (int step = -6; step <= 8; step++)
        {
            float iscale = (15f + 0.125f * step) / (hi - lo);
            double sL = 0, sLL = 0, sX = 0, sLX = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Clamp(RoundToInt((x[i] - lo) * iscale), 0, 15);
                sL += l; sLL += l * l; sX += x[i]; sLX += l * (double)x[i];
            }
            double det = n * sLL - sL * sL;
            if (det <= 0) continue;
            double s = (n * sLX - sL * sX) / det;
            double bias = (sX - s * sL) / n; // x ≈ s·q + bias, bias = −m
            if (bias > 0) { bias = 0; s = sLX / sLL; }
            if (s <= 0) continue;
            double err = 0;
            for (int i = 0; i < n; i++)
            {
                // Score with the codes the fitted (s, bias) would pick, not the candidate's, as the final pass does.
                int l = Math.Clamp((int)Math.Round((x[i] - bias) / s, MidpointRounding.ToEven), 0, 15);
                double e = s * l + bias - x[i];
                err += e * e;
            }
            if (err < bestErr) { bestErr = (float)err; scale = (float)s; min = (float)-bias; }
        }
    }

    /// <summary>Picks the 6-bit (scale, min) among the rounded pair and its ±1 neighbours with the lowest squared error.</summary>
    private static void RefineQuantizedScaleMin(ReadOnlySpan<float> x, float d, float dmin, int sc0, int m0, out byte sc, out byte m)
    {
        double bestErr = double.MaxValue;
        sc = (byte)sc0;
        m = (byte)m0;
        for (int s = Math.Max(0, sc0 - 1); s <= Math.Min(63, sc0 + 1); s++)
            for (int mm = Math.Max(0, m0 - 1); mm <= Math.Min(63, m0 + 1); mm++)
            {
                float ds = d * s, dm = dmin * mm;
                double err = 0;
                foreach (float v in x)
                {
                    int q = ds > 0 ? Math.Clamp(RoundToInt((v + dm) / ds), 0, 15) : 0;
                    double e = ds * q - dm - v;
                    err += e * e;
                }
                if (err < bestErr) { bestErr = err; sc = (byte)s; m = (byte)mm; }
            }
    }

    private static void DequantizeQ4_K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        var blocks = MemoryMarshal.Cast<byte, BlockQ4_K>(src);
        for (int b = 0; b < blocks.Length; b++)
        {
            BlockQ4_K blk = blocks[b];
            float d = Fp16Codec.ToSingle(blk.D), dmin = Fp16Codec.ToSingle(blk.DMin);
            UnpackQ4KScales(blk.Scales, out ulong scales, out ulong mins);
            var y = dst.Slice(b * 256, 256);
            for (int g = 0; g < 4; g++)
            {
                float d0 = d * (byte)(scales >> (16 * g)), m0 = dmin * (byte)(mins >> (16 * g));
                float d1 = d * (byte)(scales >> (16 * g + 8)), m1 = dmin * (byte)(mins >> (16 * g + 8));
                for (int l = 0; l < 32; l++)
                {
                    byte q = blk.Qs[32 * g + l];
                    y[64 * g + l] = d0 * (q & 0xF) - m0;
                    y[64 * g + 32 + l] = d1 * (q >> 4) - m1;
                }
            }
        }
    }

    private static void QuantizeQ6_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        var blocks = MemoryMarshal.Cast<byte, BlockQ6_K>(dst);
        Span<float> subScale = stackalloc float[16];
        Span<sbyte> L = stackalloc sbyte[256];
        for (int b = 0; b < blocks.Length; b++)
        {
            var x = src.Slice(b * 256, 256);
            float maxAbs = 0;
            for (int s = 0; s < 16; s++)
            {
                subScale[s] = FitSymmetricScale(x.Slice(s * 16, 16));
                maxAbs = MathF.Max(maxAbs, MathF.Abs(subScale[s]));
            }
            ushort dh = Fp16Codec.FromSingle(maxAbs / 127f);
            float d = Fp16Codec.ToSingle(dh);
            float id = d > 0 && float.IsFinite(d) ? 1f / d : 0f;
            ref var blk = ref blocks[b];
            blk.D = dh;
            for (int s = 0; s < 16; s++)
            {
                int q = Math.Clamp(RoundToInt(subScale[s] * id), -127, 127);
                blk.Scales[s] = (sbyte)q;
                float ds = d * q;
                for (int i = s * 16; i < s * 16 + 16; i++)
                    L[i] = ds != 0 ? (sbyte)Math.Clamp(RoundToInt(x[i] / ds), -32, 31) : (sbyte)0;
            }
            for (int half = 0; half < 2; half++)
            {
                int e0 = half * 128, ql = half * 64, qh = half * 32;
                for (int l = 0; l < 32; l++)
                {
                    int q1 = L[e0 + l] + 32, q2 = L[e0 + l + 32] + 32, q3 = L[e0 + l + 64] + 32, q4 = L[e0 + l + 96] + 32;
                    blk.Ql[ql + l] = (byte)((q1 & 0xF) | ((q3 & 0xF) << 4));
                    blk.Ql[ql + l + 32] = (byte)((q2 & 0xF) | ((q4 & 0xF) << 4));
                    blk.Qh[qh + l] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
                }
            }
        }
    }

    /// <summary>
    /// Best s for x ≈ s·q, q ∈ −32..31: anchors the signed extreme at −32 (the wider side of the range), then tries
    /// slightly different grid densities and refits s = Σxq/Σq² on each, keeping the lowest squared error.
    /// </summary>
    private static float FitSymmetricScale(ReadOnlySpan<float> x)
    {
        float amax = 0, max = 0;
        foreach (float v in x)
            if (MathF.Abs(v) > amax) { amax = MathF.Abs(v); max = v; }
        if (amax == 0) return 0;
        float best = max / -32f;
        double bestErr = double.MaxValue;
        for (int step = -8; step <= 8; step++)
        {
            float iscale = (-32f + 0.25f * step) / max;
            double sXQ = 0, sQQ = 0;
            foreach (float v in x)
            {
                int q = Math.Clamp(RoundToInt(v * iscale), -32, 31);
                sXQ += v * (double)q; sQQ += q * q;
            }
            if (sQQ == 0) continue;
            double s = sXQ / sQQ, err = 0;
            foreach (float v in x)
            {
                int q = Math.Clamp((int)Math.Round(v / s, MidpointRounding.ToEven), -32, 31);
                double e = s * q - v;
                err += e * e;
            }
            if (err < bestErr) { bestErr = err; best = (float)s; }
        }
        return best;
    }

    private static void DequantizeQ6_K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        var blocks = MemoryMarshal.Cast<byte, BlockQ6_K>(src);
        for (int b = 0; b < blocks.Length; b++)
        {
            BlockQ6_K blk = blocks[b];
            float d = Fp16Codec.ToSingle(blk.D);
            var y = dst.Slice(b * 256, 256);
            for (int half = 0; half < 2; half++)
            {
                int e0 = half * 128, ql = half * 64, qh = half * 32, sc = half * 8;
                for (int l = 0; l < 32; l++)
                {
                    int s = sc + l / 16;
                    int h = blk.Qh[qh + l];
                    int q1 = ((blk.Ql[ql + l] & 0xF) | ((h & 3) << 4)) - 32;
                    int q2 = ((blk.Ql[ql + l + 32] & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                    int q3 = ((blk.Ql[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
                    int q4 = ((blk.Ql[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
                    y[e0 + l] = d * blk.Scales[s] * q1;
                    y[e0 + l + 32] = d * blk.Scales[s + 2] * q2;
                    y[e0 + l + 64] = d * blk.Scales[s + 4] * q3;
                    y[e0 + l + 96] = d * blk.Scales[s + 6] * q4;
                }
            }
        }
    }
}
