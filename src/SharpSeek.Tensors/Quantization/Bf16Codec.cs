using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SharpSeek.Tensors.Quantization;

/// <summary>
/// bfloat16 ↔ binary32. bfloat16 is the top half of a binary32, so widening is a shift; narrowing rounds the dropped
/// 16 bits to nearest-even (the carry may roll into the exponent, which is exactly right, up to ±Inf) and keeps NaNs
/// quiet so a NaN whose payload sits only in the low bits does not become Inf.
/// </summary>
public static class Bf16Codec
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value)
    {
        uint b = BitConverter.SingleToUInt32Bits(value);
        if ((b & 0x7FFFFFFFu) > 0x7F800000u) return (ushort)((b >> 16) | 0x40u);
        return (ushort)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
    }

    public static unsafe void ToSingle(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"destination holds {dst.Length} floats but {src.Length} are needed", nameof(dst));
        int n = src.Length, i = 0;
        fixed (ushort* ps = src)
        fixed (float* pd = dst)
        {
            if (Vector512.IsHardwareAccelerated)
                for (; i + 32 <= n; i += 32)
                {
                    var v = Vector512.Load(ps + i);
                    (Vector512.WidenLower(v) << 16).AsSingle().Store(pd + i);
                    (Vector512.WidenUpper(v) << 16).AsSingle().Store(pd + i + 16);
                }
            if (Vector256.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16)
                {
                    var v = Vector256.Load(ps + i);
                    (Vector256.WidenLower(v) << 16).AsSingle().Store(pd + i);
                    (Vector256.WidenUpper(v) << 16).AsSingle().Store(pd + i + 8);
                }
            for (; i < n; i++) pd[i] = ToSingle(ps[i]);
        }
    }

    public static unsafe void FromSingle(ReadOnlySpan<float> src, Span<ushort> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"destination holds {dst.Length} bfloat16s but {src.Length} are needed", nameof(dst));
        int n = src.Length, i = 0;
        fixed (float* ps = src)
        fixed (ushort* pd = dst)
        {
            if (Vector512.IsHardwareAccelerated)
                for (; i + 32 <= n; i += 32)
                    Vector512.Narrow(Narrow(Vector512.Load(ps + i)), Narrow(Vector512.Load(ps + i + 16))).Store(pd + i);
            if (Vector256.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16)
                    Vector256.Narrow(Narrow(Vector256.Load(ps + i)), Narrow(Vector256.Load(ps + i + 8))).Store(pd + i);
            for (; i < n; i++) pd[i] = FromSingle(ps[i]);
        }
    }

    /// <summary>Rounded bfloat16 bit patterns in the low half of each lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> Narrow(Vector512<float> x)
    {
        var b = x.AsUInt32();
        var rounded = (b + Vector512.Create(0x7FFFu) + ((b >> 16) & Vector512<uint>.One)) >> 16;
        var nan = (b >> 16) | Vector512.Create(0x40u);
        return Vector512.ConditionalSelect(Vector512.GreaterThan(b & Vector512.Create(0x7FFFFFFFu), Vector512.Create(0x7F800000u)), nan, rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<uint> Narrow(Vector256<float> x)
    {
        var b = x.AsUInt32();
        var rounded = (b + Vector256.Create(0x7FFFu) + ((b >> 16) & Vector256<uint>.One)) >> 16;
        var nan = (b >> 16) | Vector256.Create(0x40u);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(b & Vector256.Create(0x7FFFFFFFu), Vector256.Create(0x7F800000u)), nan, rounded);
    }
}
