using System.Runtime.InteropServices;

namespace SharpSeek.Tensors.Quantization;

// The 32-element "legacy" GGML formats (Q8_0, Q4_0) and the Q8_K activation format.
public static unsafe partial class BlockQuantizer
{
    private static void QuantizeQ8_0(ReadOnlySpan<float> src, Span<byte> dst)
    {
        var blocks = MemoryMarshal.Cast<byte, BlockQ8_0>(dst);
        for (int b = 0; b < blocks.Length; b++)
        {
            var x = src.Slice(b * 32, 32);
            float amax = 0;
            foreach (float v in x) amax = MathF.Max(amax, MathF.Abs(v));
            // Quantize against the scale as stored (fp16), so the decoded block is the best this scale can give;
            // if fp16 rounded the scale down, the largest element may need 128 and is clamped to 127.
            ushort dh = Fp16Codec.FromSingle(amax / 127f);
            float d = Fp16Codec.ToSingle(dh);
            float id = d > 0 && float.IsFinite(d) ? 1f / d : 0f;
            ref var blk = ref blocks[b];
            blk.D = dh;
            for (int j = 0; j < 32; j++) blk.Qs[j] = (sbyte)Math.Clamp(RoundToInt(x[j] * id), -127, 127);
        }
    }

    private static void DequantizeQ8_0(ReadOnlySpan<byte> src, Span<float> dst)
    {
        var blocks = MemoryMarshal.Cast<byte, BlockQ8_0>(src);
        for (int b = 0; b < blocks.Length; b++)
        {
            BlockQ8_0 blk = blocks[b];
            float d = Fp16Codec.ToSingle(blk.D);
            var y = dst.Slice(b * 32, 32);
            for (int j = 0; j < 32; j++) y[j] = d * blk.Qs[j];
        }
    }

    private static void QuantizeQ4_0(ReadOnlySpan<float> src, Span<byte> dst)
    {
        var blocks = MemoryMarshal.Cast<byte, BlockQ4_0>(dst);
        for (int b = 0; b < blocks.Length; b++)
        {
            var x = src.Slice(b * 32, 32);
            // The signed extreme maps to −8 exactly, using the asymmetric end of the 4-bit range for the bigger side.
            float amax = 0, max = 0;
            foreach (float v in x)
                if (MathF.Abs(v) > amax) { amax = MathF.Abs(v); max = v; }
            ushort dh = Fp16Codec.FromSingle(max / -8f);
            float d = Fp16Codec.ToSingle(dh);
            float id = d != 0 && float.IsFinite(d) ? 1f / d : 0f;
            ref var blk = ref blocks[b];
            blk.D = dh;
            for (int j = 0; j < 16; j++)
            {
                int lo = Math.Clamp(RoundToInt(x[j] * id) + 8, 0, 15);
                int hi = Math.Clamp(RoundToInt(x[j + 16] * id) + 8, 0, 15);
                blk.Qs[j] = (byte)(lo | (hi << 4));
            }
        }
    }

    private static void DequantizeQ4_0(ReadOnlySpan<byte> src, Span<float> dst)
    {
        var blocks = MemoryMarshal.Cast<byte, BlockQ4_0>(src);
        for (int b = 0; b < blocks.Length; b++)
        {
            BlockQ4_0 blk = blocks[b];
            float d = Fp16Codec.ToSingle(blk.D);
            var y = dst.Slice(b * 32, 32);
            for (int j = 0; j < 16; j++)
            {
                y[j] = ((blk.Qs[j] & 0xF) - 8) * d;
                y[j + 16] = ((blk.Qs[j] >> 4) - 8) * d;
            }
        }
    }

    private static void QuantizeQ8_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        var blocks = MemoryMarshal.Cast<byte, BlockQ8_K>(dst);
        fixed (float* px = src)
            for (int b = 0; b < blocks.Length; b++)
                fixed (BlockQ8_K* blk = &blocks[b])
                    QuantizeQ8_KBlock(px + b * 256, blk);
    }

    /// <summary>
    /// One Q8_K block. Symmetric (−127..127, d = amax/127) rather than GGML's −128-anchored choice: the integer dot
    /// kernels rely on |q| ≤ 127 (the sign trick and 16-bit pair sums cannot overflow then).
    /// </summary>
    internal static void QuantizeQ8_KBlock(float* x, BlockQ8_K* blk)
    {
        float amax = 0;
        for (int j = 0; j < 256; j++) amax = MathF.Max(amax, MathF.Abs(x[j]));
        float d = amax / 127f;
        float id = amax > 0 ? 127f / amax : 0f;
        blk->D = d;
        for (int g = 0; g < 16; g++)
        {
            int sum = 0;
            for (int j = g * 16; j < g * 16 + 16; j++)
            {
                int q = Math.Clamp(RoundToInt(x[j] * id), -127, 127);
                blk->Qs[j] = (sbyte)q;
                sum += q;
            }
            blk->BSums[g] = (short)sum;
        }
    }

    private static void DequantizeQ8_K(ReadOnlySpan<byte> src, Span<float> dst)
    {
        var blocks = MemoryMarshal.Cast<byte, BlockQ8_K>(src);
        for (int b = 0; b < blocks.Length; b++)
        {
            BlockQ8_K blk = blocks[b];
            var y = dst.Slice(b * 256, 256);
            for (int j = 0; j < 256; j++) y[j] = blk.D * blk.Qs[j];
        }
    }
}
