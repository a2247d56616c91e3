using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SharpSeek.Tensors.Quantization;

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

    /// <summary>Dot of one FP8 row with a permuted activation row, each 128-column block scaled by its <paramref name="scales"/> entry.</summary>
    private static float DotFp8Lookup(byte* row, float* xp, int k, float* scales)
    {
        var total = Vector512<float>.Zero;
        for (int c0 = 0, b = 0; c0 < k; c0 += Tensor.Fp8BlockSize, b++)
        {
            int c1 = Math.Min(k, c0 + Tensor.Fp8BlockSize);
            // Four independent chains: one FMA per chain per 64 codes keeps the 4-cycle FMA latency hidden.
            var a0 = Vector512<float>.Zero;
            var a1 = Vector512<float>.Zero;
            var a2 = Vector512<float>.Zero;
            var a3 = Vector512<float>.Zero;
            for (int j = c0; j < c1; j += 64)
            {
                Fp8Lookup(Vector512.Load(row + j), out var f0, out var f1, out var f2, out var f3);
                a0 = Avx512F.FusedMultiplyAdd(f0, Vector512.Load(xp + j), a0);
                a1 = Avx512F.FusedMultiplyAdd(f1, Vector512.Load(xp + j + 16), a1);
                a2 = Avx512F.FusedMultiplyAdd(f2, Vector512.Load(xp + j + 32), a2);
                a3 = Avx512F.FusedMultiplyAdd(f3, Vector512.Load(xp + j + 48), a3);
            }
            total = Avx512F.FusedMultiplyAdd((a0 + a1) + (a2 + a3), Vector512.Create(scales[b]), total);
        }
        return Vector512.Sum(total);
    }

    /// <summary>One FP8 row against four permuted activation rows (xp, xp+K, xp+2K, xp+3K); results to y[0], y[ldy], ….</summary>
    private static void DotFp8Lookup4(byte* row, float* xp, int k, float* scales, float* y, int ldy)
    {
        float* x0 = xp, x1 = xp + k, x2 = xp + 2 * k, x3 = xp + 3 * k;
        Vector512<float> t0 = default, t1 = default, t2 = default, t3 = default;
        for (int c0 = 0, b = 0; c0 < k; c0 += Tensor.Fp8BlockSize, b++)
        {
            int c1 = Math.Min(k, c0 + Tensor.Fp8BlockSize);
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int j = c0; j < c1; j += 64)
            {
                Fp8Lookup(Vector512.Load(row + j), out var f0, out var f1, out var f2, out var f3);
                a0 = Fma4(a0, f0, f1, f2, f3, x0 + j);
                a1 = Fma4(a1, f0, f1, f2, f3, x1 + j);
                a2 = Fma4(a2, f0, f1, f2, f3, x2 + j);
                a3 = Fma4(a3, f0, f1, f2, f3, x3 + j);
            }
            var s = Vector512.Create(scales[b]);
            t0 = Avx512F.FusedMultiplyAdd(a0, s, t0);
            t1 = Avx512F.FusedMultiplyAdd(a1, s, t1);
            t2 = Avx512F.FusedMultiplyAdd(a2, s, t2);
            t3 = Avx512F.FusedMultiplyAdd(a3, s, t3);
        }
        y[0] = Vector512.Sum(t0);
        y[ldy] = Vector512.Sum(t1);
        y[2 * ldy] = Vector512.Sum(t2);
        y[3 * ldy] = Vector512.Sum(t3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fma4(Vector512<float> acc, Vector512<float> f0, Vector512<float> f1, Vector512<float> f2, Vector512<float> f3, float* x)
    {
        // Two independent chains per call keep the FMA latency off the critical path.
        var a = Avx512F.FusedMultiplyAdd(f0, Vector512.Load(x), acc);
        var b = f1 * Vector512.Load(x + 16);
        a = Avx512F.FusedMultiplyAdd(f2, Vector512.Load(x + 32), a);
        b = Avx512F.FusedMultiplyAdd(f3, Vector512.Load(x + 48), b);
        return a + b;
    }
}
