using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Tests.Reference;

namespace SharpSeek.Tensors.Tests;

/// <summary>Scalar and span conversions between f32 and FP16 / BF16 / FP8 E4M3.</summary>
public class QuantizationConversionTests
{
    // Lengths that exercise the 512-bit, 256-bit and scalar tails of the span paths.
    private static readonly int[] SpanLengths = [0, 1, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 1027];

    private static float[] RandomFloats(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            // Mix magnitudes across many binades so subnormal, normal and overflow ranges all get hit.
            double mag = Math.Pow(2, rng.Next(-30, 20)) * (1 + rng.NextDouble());
            a[i] = (float)(mag * (rng.Next(2) == 0 ? -1 : 1) * scale);
        }
        return a;
    }

    [Fact]
    public void Fp16_ToSingle_MatchesSystemHalf_ForAll65536Patterns()
    {
        var all = new ushort[65536];
        for (int i = 0; i < all.Length; i++) all[i] = (ushort)i;
        var vec = new float[all.Length];
        Fp16Codec.ToSingle(all, vec);
        for (int i = 0; i < all.Length; i++)
        {
            float expect = (float)BitConverter.UInt16BitsToHalf((ushort)i);
            float scalar = Fp16Codec.ToSingle((ushort)i);
            if (float.IsNaN(expect))
            {
                Assert.True(float.IsNaN(scalar), $"0x{i:X4} scalar");
                Assert.True(float.IsNaN(vec[i]), $"0x{i:X4} span");
                Assert.Equal(BitConverter.SingleToUInt32Bits(scalar), BitConverter.SingleToUInt32Bits(vec[i]));
            }
            else
            {
                Assert.Equal(BitConverter.SingleToUInt32Bits(expect), BitConverter.SingleToUInt32Bits(scalar));
                Assert.Equal(BitConverter.SingleToUInt32Bits(expect), BitConverter.SingleToUInt32Bits(vec[i]));
            }
        }
    }

    [Fact]
    public void Fp16_FromSingle_RoundsLikeSystemHalf()
    {
        var inputs = RandomFloats(20000, 1).Concat(new[]
        {
            0f, -0f, 1f, 65504f, 65519.99f, 65520f, -65520f, 1e10f, float.PositiveInfinity, float.NegativeInfinity,
            5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 8.940697e-8f, 6.1035156e-5f, 6.1035152e-5f, float.Epsilon,
            1.00048828125f /* 1 + 2^-11: tie, rounds to even (1) */, 1.00146484375f /* 1 + 3·2^-11: tie, rounds up */,
        }).ToArray();
        var vec = new ushort[inputs.Length];
        Fp16Codec.FromSingle(inputs, vec);
        for (int i = 0; i < inputs.Length; i++)
        {
            ushort expect = BitConverter.HalfToUInt16Bits((Half)inputs[i]);
            Assert.True(expect == Fp16Codec.FromSingle(inputs[i]), $"{inputs[i]:R}: expected 0x{expect:X4}, scalar 0x{Fp16Codec.FromSingle(inputs[i]):X4}");
            Assert.True(expect == vec[i], $"{inputs[i]:R}: expected 0x{expect:X4}, span 0x{vec[i]:X4}");
        }
        Assert.True(float.IsNaN(Fp16Codec.ToSingle(Fp16Codec.FromSingle(float.NaN))));
        ushort[] nan = new ushort[20];
        Fp16Codec.FromSingle(Enumerable.Repeat(float.NaN, 20).ToArray(), nan);
        Assert.All(nan, h => Assert.True(float.IsNaN(Fp16Codec.ToSingle(h))));
    }

    [Fact]
    public void Bf16_FromSingle_RoundsTiesToEven()
    {
        // 1 + 2^-8 sits exactly between bf16 1.0 (even mantissa) and 1 + 2^-7: ties go to the even one.
        Assert.Equal((ushort)0x3F80, Bf16Codec.FromSingle(BitConverter.UInt32BitsToSingle(0x3F808000)));
        // 1 + 3·2^-8 sits between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up to the even one.
        Assert.Equal((ushort)0x3F82, Bf16Codec.FromSingle(BitConverter.UInt32BitsToSingle(0x3F818000)));
        // Just above the tie rounds up; just below rounds down.
        Assert.Equal((ushort)0x3F81, Bf16Codec.FromSingle(BitConverter.UInt32BitsToSingle(0x3F808001)));
        Assert.Equal((ushort)0x3F80, Bf16Codec.FromSingle(BitConverter.UInt32BitsToSingle(0x3F807FFF)));
        // Negative tie, overflow to infinity at the top, infinities, NaN stays NaN even with a low-bits-only payload.
        Assert.Equal((ushort)0xBF80, Bf16Codec.FromSingle(BitConverter.UInt32BitsToSingle(0xBF808000)));
        Assert.Equal((ushort)0x7F80, Bf16Codec.FromSingle(float.MaxValue));
        Assert.Equal((ushort)0x7F80, Bf16Codec.FromSingle(float.PositiveInfinity));
        Assert.Equal((ushort)0xFF80, Bf16Codec.FromSingle(float.NegativeInfinity));
        Assert.True(float.IsNaN(Bf16Codec.ToSingle(Bf16Codec.FromSingle(BitConverter.UInt32BitsToSingle(0x7F800001)))));
        Assert.Equal(1.0f, Bf16Codec.ToSingle(0x3F80));
        Assert.Equal(-2.0f, Bf16Codec.ToSingle(0xC000));
    }

    [Fact]
    public void Bf16_SpanConversions_MatchNearestRepresentable()
    {
        foreach (int n in SpanLengths)
        {
            var x = RandomFloats(n, 100 + n);
            var bits = new ushort[n];
            var back = new float[n];
            Bf16Codec.FromSingle(x, bits);
            Bf16Codec.ToSingle(bits, back);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(Bf16Codec.FromSingle(x[i]), bits[i]);
                Assert.Equal(Bf16Codec.ToSingle(bits[i]), back[i]);
                // Nearest: the neighbours one bf16 step away are no closer (round-trip error at most half a step).
                double step = Math.Abs((double)Bf16Codec.ToSingle((ushort)(bits[i] + 1)) - back[i]);
                Assert.True(Math.Abs((double)x[i] - back[i]) <= step / 2 * (1 + 1e-12), $"{x[i]:R} -> {back[i]:R}");
            }
        }
    }

    [Fact]
    public void Fp16_SpanPaths_AgreeWithScalar_OnAllLengths()
    {
        foreach (int n in SpanLengths)
        {
            var x = RandomFloats(n, 200 + n, 1e-3f);
            var h = new ushort[n];
            var back = new float[n];
            Fp16Codec.FromSingle(x, h);
            Fp16Codec.ToSingle(h, back);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(Fp16Codec.FromSingle(x[i]), h[i]);
                Assert.Equal(Fp16Codec.ToSingle(h[i]), back[i]);
            }
        }
    }

    [Fact]
    public void E4M3_KnownCodes()
    {
        Assert.Equal((byte)0x7E, Fp8E4M3Codec.FromSingle(448f));
        Assert.Equal((byte)0xFE, Fp8E4M3Codec.FromSingle(-448f));
        Assert.Equal((byte)0x38, Fp8E4M3Codec.FromSingle(1f));      // e = 7, m = 0
        Assert.Equal((byte)0xB8, Fp8E4M3Codec.FromSingle(-1f));
        Assert.Equal((byte)0x00, Fp8E4M3Codec.FromSingle(0f));
        Assert.Equal((byte)0x80, Fp8E4M3Codec.FromSingle(-0f));
        Assert.Equal((byte)0x01, Fp8E4M3Codec.FromSingle(MathF.Pow(2, -9)));      // smallest subnormal
        Assert.Equal((byte)0x07, Fp8E4M3Codec.FromSingle(7 * MathF.Pow(2, -9)));  // largest subnormal
        Assert.Equal((byte)0x08, Fp8E4M3Codec.FromSingle(MathF.Pow(2, -6)));      // smallest normal
        Assert.Equal((byte)0x00, Fp8E4M3Codec.FromSingle(MathF.Pow(2, -10)));     // tie between 0 and 2^-9 → even (0)
        Assert.Equal((byte)0x02, Fp8E4M3Codec.FromSingle(3 * MathF.Pow(2, -10))); // tie between 1 and 2 → even (2)
        Assert.Equal((byte)0x01, Fp8E4M3Codec.FromSingle(MathF.Pow(2, -10) * 1.01f));
        Assert.Equal((byte)0x7E, Fp8E4M3Codec.FromSingle(464f));                  // tie 448/480: saturate
        Assert.Equal((byte)0x7E, Fp8E4M3Codec.FromSingle(1e6f));                  // saturate, no infinity
        Assert.Equal((byte)0xFE, Fp8E4M3Codec.FromSingle(float.NegativeInfinity));
        // NaN keeps its sign (.NET's float.NaN has the sign bit set) and is S.1111.111.
        Assert.Equal((byte)0x7F, Fp8E4M3Codec.FromSingle(BitConverter.UInt32BitsToSingle(0x7FC00000)));
        Assert.Equal((byte)0xFF, Fp8E4M3Codec.FromSingle(BitConverter.UInt32BitsToSingle(0xFFC00000)));
        Assert.Equal((byte)0x38, Fp8E4M3Codec.FromSingle(1.0625f));               // tie 1 / 1.125 → even (1)
        Assert.Equal((byte)0x3A, Fp8E4M3Codec.FromSingle(1.1875f));               // tie 1.125 / 1.25 → even (1.25)
        Assert.Equal(448f, Fp8E4M3Codec.ToSingle(0x7E));
        Assert.Equal(-448f, Fp8E4M3Codec.ToSingle(0xFE));
        Assert.Equal(MathF.Pow(2, -9), Fp8E4M3Codec.ToSingle(0x01));
        Assert.True(float.IsNaN(Fp8E4M3Codec.ToSingle(0x7F)));
        Assert.True(float.IsNaN(Fp8E4M3Codec.ToSingle(0xFF)));
    }

    [Fact]
    public void E4M3_AllCodes_DecodeAsDefinedAndRoundTrip()
    {
        var codes = new byte[256];
        for (int i = 0; i < 256; i++) codes[i] = (byte)i;
        var vec = new float[256];
        Fp8E4M3Codec.ToSingle(codes, vec);
        for (int c = 0; c < 256; c++)
        {
            double expect = Float64Reference.E4M3((byte)c);
            if (double.IsNaN(expect))
            {
                Assert.True(float.IsNaN(Fp8E4M3Codec.ToSingle((byte)c)));
                Assert.True(float.IsNaN(vec[c]), $"span decode of 0x{c:X2}");
                continue;
            }
            Assert.Equal(expect, Fp8E4M3Codec.ToSingle((byte)c));
            Assert.Equal(expect, vec[c]);
            Assert.Equal((byte)c, Fp8E4M3Codec.FromSingle((float)expect));
        }
    }

    [Fact]
    public void E4M3_Encode_PicksNearestCode_TiesToEven()
    {
        // Brute force over the 127 finite non-negative codes in float64: the nearest code (even mantissa on ties).
        var finite = Enumerable.Range(0, 127).Select(c => (Code: (byte)c, Value: Float64Reference.E4M3((byte)c))).ToArray();
        var x = RandomFloats(5000, 7, 1f / 64).Concat(RandomFloats(3000, 8, 64f)).ToArray();
        var vec = new byte[x.Length];
        Fp8E4M3Codec.FromSingle(x, vec);
        for (int i = 0; i < x.Length; i++)
        {
            double a = Math.Abs((double)x[i]);
            byte best = 0;
            double bestErr = double.MaxValue;
            foreach (var (code, value) in finite)
            {
                double e = Math.Abs(value - a);
                if (e < bestErr || (e == bestErr && (code & 1) == 0)) { bestErr = e; best = code; }
            }
            if (a > 448) best = 0x7E;
            byte expect = (byte)(best | (x[i] < 0 ? 0x80 : 0));
            Assert.True(expect == Fp8E4M3Codec.FromSingle(x[i]), $"{x[i]:R}: expected 0x{expect:X2}, scalar 0x{Fp8E4M3Codec.FromSingle(x[i]):X2}");
            Assert.True(expect == vec[i], $"{x[i]:R}: expected 0x{expect:X2}, span 0x{vec[i]:X2}");
        }
    }

    [Fact]
    public void SpanConversions_RejectShortDestinations()
    {
        Assert.Throws<ArgumentException>(() => Fp16Codec.ToSingle(new ushort[4], new float[3]));
        Assert.Throws<ArgumentException>(() => Fp16Codec.FromSingle(new float[4], new ushort[3]));
        Assert.Throws<ArgumentException>(() => Bf16Codec.ToSingle(new ushort[4], new float[3]));
        Assert.Throws<ArgumentException>(() => Bf16Codec.FromSingle(new float[4], new ushort[3]));
        Assert.Throws<ArgumentException>(() => Fp8E4M3Codec.ToSingle(new byte[4], new float[3]));
        Assert.Throws<ArgumentException>(() => Fp8E4M3Codec.FromSingle(new float[4], new byte[3]));
    }
}
