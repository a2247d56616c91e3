using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SharpSeek.Tensors.Quantization;

/// <summary>
/// Quantizes activation rows once per linear call, so the weight dot products can run on int8.
/// Both formats are symmetric (q ∈ −127..127, d = amax/127): the integer kernels need |q| ≤ 127 so that pair sums of
/// u8·s8 products fit int16 and negating a quant never overflows.
/// </summary>
/// <remarks>
/// The Q8_0-style activations use a split layout rather than GGML's 34-byte blocks: contiguous quants (so a block's
/// 32 bytes load with one aligned-enough vector load), an f32 scale per block (no conversion in the inner loop) and the
/// per-block sum of quants, which lets the kernels feed unsigned weight codes to u8×s8 dot instructions and correct for
/// the offset afterwards. The quants are computed with the exact scale amax/127 but the stored scale is rounded to fp16,
/// as GGML's block_q8_0 stores it: that costs nothing measurable in accuracy and keeps our products bit-compatible with
/// llama.cpp's, so the parity tests can hold Q8_0 models to a tight tolerance (with f32 scales the two engines' rounding
/// decorrelates and random MoE models flip expert choices).
/// </remarks>
internal static unsafe class ActivationQuantizer
{
    /// <summary>Quantizes <paramref name="k"/> floats (k a multiple of 32) into quants, per-block scales and per-block quant sums.</summary>
    public static void QuantizeQ8_0(float* x, int k, sbyte* q, float* d, int* sums)
    {
        int nb = k / 32;
        for (int b = 0; b < nb; b++, x += 32, q += 32)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var v0 = Vector512.Load(x);
                var v1 = Vector512.Load(x + 16);
                float amax = Vector512.Max(Vector512.Abs(v0), Vector512.Abs(v1)).MaxAcross();
                float scale = amax / 127f;
                float id = scale > 0 ? 1f / scale : 0f;
                d[b] = RoundScale(scale);
                var q0 = Vector512.ConvertToInt32(Vector512.Round(v0 * id));
                var q1 = Vector512.ConvertToInt32(Vector512.Round(v1 * id));
                sums[b] = Vector512.Sum(q0 + q1);
                var packed = Vector512.Narrow(Vector512.Narrow(q0, q1), default(Vector512<short>));
                packed.GetLower().Store(q);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var v0 = Vector256.Load(x);
                var v1 = Vector256.Load(x + 8);
                var v2 = Vector256.Load(x + 16);
                var v3 = Vector256.Load(x + 24);
                var m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
                float amax = m.MaxAcross();
                float scale = amax / 127f;
                float id = scale > 0 ? 1f / scale : 0f;
                d[b] = RoundScale(scale);
                var q0 = Vector256.ConvertToInt32(Vector256.Round(v0 * id));
                var q1 = Vector256.ConvertToInt32(Vector256.Round(v1 * id));
                var q2 = Vector256.ConvertToInt32(Vector256.Round(v2 * id));
                var q3 = Vector256.ConvertToInt32(Vector256.Round(v3 * id));
                sums[b] = Vector256.Sum(q0 + q1 + q2 + q3);
                Vector256.Narrow(Vector256.Narrow(q0, q1), Vector256.Narrow(q2, q3)).Store(q);
            }
            else
            {
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
                float scale = amax / 127f;
                float id = scale > 0 ? 1f / scale : 0f;
                d[b] = RoundScale(scale);
                int s = 0;
                for (int j = 0; j < 32; j++)
                {
                    int v = (int)MathF.Round(x[j] * id, MidpointRounding.ToEven);
                    q[j] = (sbyte)v;
                    s += v;
                }
                sums[b] = s;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RoundScale(float scale) => (float)(Half)scale;

    /// <summary>Quantizes <paramref name="k"/> floats (k a multiple of 256) into Q8_K blocks (bit-identical to <see cref="BlockQuantizer"/>'s Q8_K).</summary>
    public static void QuantizeQ8_K(float* x, int k, BlockQ8_K* dst)
    {
        int nb = k / 256;
        for (int b = 0; b < nb; b++, x += 256)
        {
            BlockQ8_K* blk = dst + b;
            if (!Vector512.IsHardwareAccelerated)
            {
                BlockQuantizer.QuantizeQ8_KBlock(x, blk);
                continue;
            }
            var m = Vector512<float>.Zero;
            for (int j = 0; j < 256; j += 16) m = Vector512.Max(m, Vector512.Abs(Vector512.Load(x + j)));
            float amax = m.MaxAcross();
            float id = amax > 0 ? 127f / amax : 0f;
            blk->D = amax / 127f;
            sbyte* q = blk->Qs;
            for (int g = 0; g < 16; g += 2)
            {
                var q0 = Vector512.ConvertToInt32(Vector512.Round(Vector512.Load(x + g * 16) * id));
                var q1 = Vector512.ConvertToInt32(Vector512.Round(Vector512.Load(x + g * 16 + 16) * id));
                blk->BSums[g] = (short)Vector512.Sum(q0);
                blk->BSums[g + 1] = (short)Vector512.Sum(q1);
                Vector512.Narrow(Vector512.Narrow(q0, q1), default(Vector512<short>)).GetLower().Store(q + g * 16);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxAcross(this Vector512<float> v) => Vector256.Max(v.GetLower(), v.GetUpper()).MaxAcross();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxAcross(this Vector256<float> v)
    {
        var h = Vector128.Max(v.GetLower(), v.GetUpper());
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
        h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
        return h.ToScalar();
    }
}
