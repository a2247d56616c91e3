using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SharpSeek.Tensors.Quantization;

/// <summary>
/// IEEE binary16 ↔ binary32 by bit manipulation, scalar and SIMD. .NET exposes no F16C intrinsics, so the vector paths
/// rebuild the conversion from integer ops: widening is exact (rescale the exponent with one multiply), narrowing rounds
/// to nearest-even like <see cref="Half"/>'s explicit conversion.
/// </summary>
public static class Fp16Codec
{
    // 2^112 moves a binary16 exponent (bias 15) placed in a binary32 exponent field onto bias 127.
    private const float ExponentRebias = 5.192296858534828e33f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort h)
    {
        uint em = h & 0x7FFFu;
        uint sign = (uint)(h & 0x8000) << 16;
        float f = BitConverter.UInt32BitsToSingle(em << 13) * ExponentRebias;
        // Inf/NaN: keep the all-ones exponent (and the NaN payload, whose top bit is the quiet bit in both formats).
        if (em >= 0x7C00) f = BitConverter.UInt32BitsToSingle((em << 13) | 0x7F800000u);
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(f) | sign);
    }

    /// <summary>Round-to-nearest-even narrowing; overflow gives ±Inf, NaN stays NaN (quiet).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value)
    {
        uint b = BitConverter.SingleToUInt32Bits(value);
        uint sign = (b >> 16) & 0x8000u;
        uint a = b & 0x7FFFFFFFu;
        uint r;
        if (a >= 0x47800000u) // |x| >= 65536 (or Inf/NaN): already past the rounding boundary of the largest half
            r = a > 0x7F800000u ? 0x7E00u | ((a >> 13) & 0x3FFu) : 0x7C00u;
        else if (a < 0x38800000u) // below 2^-14: half subnormal; adding 0.5 lets the FPU round at the 2^-24 grid
            r = BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(a) + 0.5f) - 0x3F000000u;
        else // rebias the exponent (−112 << 23) and round the 13 dropped mantissa bits to even
            r = (a + 0xC8000FFFu + ((a >> 13) & 1u)) >> 13;
        return (ushort)(r | sign);
    }

    /// <summary>Widens <paramref name="src"/> (binary16 bit patterns) into <paramref name="dst"/>.</summary>
    public static unsafe void ToSingle(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"destination holds {dst.Length} floats but {src.Length} are needed", nameof(dst));
        int n = src.Length, i = 0;
        fixed (ushort* ps = src)
        fixed (float* pd = dst)
        {
            if (Vector512.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16) Widen(Vector512.WidenLower(Vector512.Create(Vector256.Load(ps + i), default(Vector256<ushort>)))).Store(pd + i);
            if (Vector256.IsHardwareAccelerated)
                for (; i + 8 <= n; i += 8) Widen(Vector256.WidenLower(Vector256.Create(Vector128.Load(ps + i), default(Vector128<ushort>)))).Store(pd + i);
            for (; i < n; i++) pd[i] = ToSingle(ps[i]);
        }
    }

    /// <summary>Narrows <paramref name="src"/> into binary16 bit patterns with round-to-nearest-even.</summary>
    public static unsafe void FromSingle(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"destination holds {dst.Length} halves but {src.Length} are needed", nameof(dst));
        int n = src.Length, i = 0;
        fixed (float* ps = src)
        fixed (ushort* pd = dst)
        {
            if (Vector512.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16) Vector512.Narrow(Narrow(Vector512.Load(ps + i)), default).GetLower().Store(pd + i);
            if (Vector256.IsHardwareAccelerated)
                for (; i + 8 <= n; i += 8) Vector256.Narrow(Narrow(Vector256.Load(ps + i)), default).GetLower().Store(pd + i);
            for (; i < n; i++) pd[i] = FromSingle(ps[i]);
        }
    }

    /// <summary>binary16 bit patterns (zero-extended to 32-bit lanes) to floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Widen(Vector512<uint> h)
    {
        var em = h & Vector512.Create(0x7FFFu);
        var sign = (h & Vector512.Create(0x8000u)) << 16;
        var shifted = em << 13;
        var finite = (shifted.AsSingle() * Vector512.Create(ExponentRebias)).AsUInt32();
        var special = shifted | Vector512.Create(0x7F800000u);
        var bits = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(em, Vector512.Create(0x7C00u)), special, finite);
        return (bits | sign).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Widen(Vector256<uint> h)
    {
        var em = h & Vector256.Create(0x7FFFu);
        var sign = (h & Vector256.Create(0x8000u)) << 16;
        var shifted = em << 13;
        var finite = (shifted.AsSingle() * Vector256.Create(ExponentRebias)).AsUInt32();
        var special = shifted | Vector256.Create(0x7F800000u);
        var bits = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(em, Vector256.Create(0x7C00u)), special, finite);
        return (bits | sign).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Widen(Vector128<uint> h)
    {
        var em = h & Vector128.Create(0x7FFFu);
        var sign = (h & Vector128.Create(0x8000u)) << 16;
        var shifted = em << 13;
        var finite = (shifted.AsSingle() * Vector128.Create(ExponentRebias)).AsUInt32();
        var special = shifted | Vector128.Create(0x7F800000u);
        var bits = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(em, Vector128.Create(0x7C00u)), special, finite);
        return (bits | sign).AsSingle();
    }

    /// <summary>Floats to binary16 bit patterns in the low half of each 32-bit lane (same rules as the scalar path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> Narrow(Vector512<float> x)
    {
        var b = x.AsUInt32();
        var sign = (b >> 16) & Vector512.Create(0x8000u);
        var a = b & Vector512.Create(0x7FFFFFFFu);
        var big = Vector512.ConditionalSelect(Vector512.GreaterThan(a, Vector512.Create(0x7F800000u)),
            Vector512.Create(0x7E00u) | ((a >> 13) & Vector512.Create(0x3FFu)), Vector512.Create(0x7C00u));
        var tiny = (a.AsSingle() + Vector512.Create(0.5f)).AsUInt32() - Vector512.Create(0x3F000000u);
        var normal = (a + Vector512.Create(0xC8000FFFu) + ((a >> 13) & Vector512<uint>.One)) >> 13;
        var r = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(0x38800000u)), tiny, normal);
        r = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(a, Vector512.Create(0x47800000u)), big, r);
        return r | sign;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<uint> Narrow(Vector256<float> x)
    {
        var b = x.AsUInt32();
        var sign = (b >> 16) & Vector256.Create(0x8000u);
        var a = b & Vector256.Create(0x7FFFFFFFu);
        var big = Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256.Create(0x7F800000u)),
            Vector256.Create(0x7E00u) | ((a >> 13) & Vector256.Create(0x3FFu)), Vector256.Create(0x7C00u));
        var tiny = (a.AsSingle() + Vector256.Create(0.5f)).AsUInt32() - Vector256.Create(0x3F000000u);
        var normal = (a + Vector256.Create(0xC8000FFFu) + ((a >> 13) & Vector256<uint>.One)) >> 13;
        var r = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(0x38800000u)), tiny, normal);
        r = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, Vector256.Create(0x47800000u)), big, r);
        return r | sign;
    }

    /// <summary>Reads a little-endian binary16 at <paramref name="offset"/> of <paramref name="bytes"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Read(ReadOnlySpan<byte> bytes, int offset)
        => ToSingle(MemoryMarshal.Read<ushort>(bytes.Slice(offset, 2)));
}
