using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SharpSeek.Tensors.Quantization;

/// <summary>
/// FP8 E4M3 (OCP "E4M3FN", DeepSeek-V3's weight format): 1 sign, 4 exponent bits with bias 7, 3 mantissa bits, no
/// infinities, S.1111.111 is NaN, the largest finite value is ±448 and the smallest subnormal 2^-9.
/// </summary>
public static class Fp8E4M3Codec
{
    public const float MaxValue = 448f;
    /// <summary>Positive NaN code (S.1111.111 with S = 0).</summary>
    public const byte NaN = 0x7F;

    // 2^120 rebiases an E4M3 exponent (bias 7) placed in a binary32 exponent field to bias 127; it is exact for the
    // subnormal codes too because those land on binary32 subnormals, which the multiply scales without rounding.
    internal const float ExponentRebias = 1.329227995784916e36f;

    private static readonly float[] s_decode = BuildDecodeTable();

    private static float[] BuildDecodeTable()
    {
        var t = new float[256];
        for (int c = 0; c < 256; c++)
        {
            int e = (c >> 3) & 0xF, m = c & 7;
            float mag = e == 15 && m == 7 ? float.NaN
                : e == 0 ? m * (1f / 512f)
                : (1f + m / 8f) * MathF.Pow(2f, e - 7);
            t[c] = (c & 0x80) != 0 ? -mag : mag;
        }
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(byte code) => s_decode[code];

    /// <summary>Round-to-nearest-even; magnitudes beyond 448 (including ±Inf) saturate to ±448; NaN maps to NaN.</summary>
    public static byte FromSingle(float value)
    {
        uint b = BitConverter.SingleToUInt32Bits(value);
        uint sign = (b >> 24) & 0x80u;
        uint a = b & 0x7FFFFFFFu;
        if (a > 0x7F800000u) return (byte)(sign | NaN);
        return (byte)(sign | EncodeMagnitude(a));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint EncodeMagnitude(uint a)
    {
        if (a < 0x3C800000u) // below 2^-6: subnormal grid of 2^-9; code 8 (rounded up from 7.5) is the smallest normal
            return (uint)MathF.Round(BitConverter.UInt32BitsToSingle(a) * 512f, MidpointRounding.ToEven);
        // Round to 3 mantissa bits (ties to even); a carry bumps the exponent, which is the right answer.
        uint r = a + 0x7FFFFu + ((a >> 20) & 1u);
        if (r >= 0x43E00000u) return 0x7E; // 448 and above (and Inf) saturate
        return (((r >> 23) - 120u) << 3) | ((r >> 20) & 7u);
    }

    public static unsafe void ToSingle(ReadOnlySpan<byte> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"destination holds {dst.Length} floats but {src.Length} are needed", nameof(dst));
        int n = src.Length, i = 0;
        fixed (byte* ps = src)
        fixed (float* pd = dst)
        {
            if (Vector512.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16) Widen(Vector128.Load(ps + i)).Store(pd + i);
            if (Vector256.IsHardwareAccelerated)
                for (; i + 8 <= n; i += 8) Widen(Vector64.Load(ps + i)).Store(pd + i);
            for (; i < n; i++) pd[i] = s_decode[ps[i]];
        }
    }

    public static unsafe void FromSingle(ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"destination holds {dst.Length} bytes but {src.Length} are needed", nameof(dst));
        int n = src.Length, i = 0;
        fixed (float* ps = src)
        fixed (byte* pd = dst)
        {
            if (Vector512.IsHardwareAccelerated)
                for (; i + 64 <= n; i += 64)
                {
                    var lo = Vector512.Narrow(Narrow(Vector512.Load(ps + i)), Narrow(Vector512.Load(ps + i + 16)));
                    var hi = Vector512.Narrow(Narrow(Vector512.Load(ps + i + 32)), Narrow(Vector512.Load(ps + i + 48)));
                    Vector512.Narrow(lo, hi).Store(pd + i);
                }
            if (Vector256.IsHardwareAccelerated)
                for (; i + 32 <= n; i += 32)
                {
                    var lo = Vector256.Narrow(Narrow(Vector256.Load(ps + i)), Narrow(Vector256.Load(ps + i + 8)));
                    var hi = Vector256.Narrow(Narrow(Vector256.Load(ps + i + 16)), Narrow(Vector256.Load(ps + i + 24)));
                    Vector256.Narrow(lo, hi).Store(pd + i);
                }
            for (; i < n; i++) pd[i] = FromSingle(ps[i]);
        }
    }

    /// <summary>16 codes to floats: sign-extend so the sign lands on bit 31, move exponent+mantissa to bits 20..26, rebias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Widen(Vector128<byte> codes)
    {
        var s = Vector512.WidenLower(Vector512.WidenLower(Vector512.Create(Vector256.Create(codes.AsSByte(), default), default)));
        return WidenSignExtended(s);
    }

    /// <summary>Same as <see cref="Widen(Vector128{byte})"/> for codes already sign-extended to 32-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> WidenSignExtended(Vector512<int> s)
    {
        var bits = (s << 20) & Vector512.Create(unchecked((int)0x87F00000));
        var f = bits.AsSingle() * Vector512.Create(ExponentRebias);
        var isNaN = Vector512.Equals(bits & Vector512.Create(0x07F00000), Vector512.Create(0x07F00000));
        return Vector512.ConditionalSelect(isNaN.AsSingle(), Vector512.Create(float.NaN), f);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Widen(Vector64<byte> codes)
    {
        var s = Vector256.WidenLower(Vector256.WidenLower(Vector256.Create(Vector128.Create(codes.AsSByte(), default), default)));
        return WidenSignExtended(s);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> WidenSignExtended(Vector256<int> s)
    {
        var bits = (s << 20) & Vector256.Create(unchecked((int)0x87F00000));
        var f = bits.AsSingle() * Vector256.Create(ExponentRebias);
        var isNaN = Vector256.Equals(bits & Vector256.Create(0x07F00000), Vector256.Create(0x07F00000));
        return Vector256.ConditionalSelect(isNaN.AsSingle(), Vector256.Create(float.NaN), f);
    }

    /// <summary>Floats to codes in the low byte of each lane (same rules as <see cref="FromSingle(float)"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> Narrow(Vector512<float> x)
    {
        var b = x.AsUInt32();
        var sign = (b >> 24) & Vector512.Create(0x80u);
        var a = b & Vector512.Create(0x7FFFFFFFu);
        // Subnormal grid: a·512 + 2^23 rounds to an integer (ties to even) in the low mantissa bits.
        var sub = ((a.AsSingle() * Vector512.Create(512f) + Vector512.Create(8388608f)).AsUInt32()) - Vector512.Create(0x4B000000u);
        var r = a + Vector512.Create(0x7FFFFu) + ((a >> 20) & Vector512<uint>.One);
        var normal = (((r >> 23) - Vector512.Create(120u)) << 3) | ((r >> 20) & Vector512.Create(7u));
        normal = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(r, Vector512.Create(0x43E00000u)), Vector512.Create(0x7Eu), normal);
        var code = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(0x3C800000u)), sub, normal);
        code = Vector512.ConditionalSelect(Vector512.GreaterThan(a, Vector512.Create(0x7F800000u)), Vector512.Create((uint)NaN), code);
        return code | sign;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<uint> Narrow(Vector256<float> x)
    {
        var b = x.AsUInt32();
        var sign = (b >> 24) & Vector256.Create(0x80u);
        var a = b & Vector256.Create(0x7FFFFFFFu);
        var sub = ((a.AsSingle() * Vector256.Create(512f) + Vector256.Create(8388608f)).AsUInt32()) - Vector256.Create(0x4B000000u);
        var r = a + Vector256.Create(0x7FFFFu) + ((a >> 20) & Vector256<uint>.One);
        var normal = (((r >> 23) - Vector256.Create(120u)) << 3) | ((r >> 20) & Vector256.Create(7u));
        normal = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(r, Vector256.Create(0x43E00000u)), Vector256.Create(0x7Eu), normal);
        var code = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(0x3C800000u)), sub, normal);
        code = Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256.Create(0x7F800000u)), Vector256.Create((uint)NaN), code);
        return code | sign;
    }
}
