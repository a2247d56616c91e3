using System.Buffers.Binary;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Tests.Reference;

namespace SharpSeek.Tensors.Tests;

/// <summary>GGML block codecs (Q8_0, Q4_0, Q4_K, Q6_K, Q8_K), row decoding of tensors, and FP8 block quantization.</summary>
public unsafe class QuantizationBlockTests
{
    public static TheoryData<DType> BlockTypes => new() { DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K, DType.Q8_K };

    /// <summary>Roughly Gaussian values (sum of uniforms) with occasional outliers, like trained weights.</summary>
    internal static float[] WeightLike(int n, int seed, float sigma = 0.02f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            double g = rng.NextDouble() + rng.NextDouble() + rng.NextDouble() + rng.NextDouble() - 2.0;
            if (rng.Next(64) == 0) g *= 4;
            a[i] = (float)(g * sigma * 1.7);
        }
        return a;
    }

    /// <summary>Random bytes that form a valid block row: every byte random except fp16 scales, which get finite values.</summary>
    private static byte[] RandomBlockBytes(DType type, int blocks, int seed)
    {
        var rng = new Random(seed);
        int bb = DTypeInfo.BlockBytes(type);
        var bytes = new byte[blocks * bb];
        rng.NextBytes(bytes);
        ushort RandomScale() => BitConverter.HalfToUInt16Bits((Half)(rng.NextDouble() * 0.1 * (rng.Next(2) == 0 ? 1 : -1)));
        for (int b = 0; b < blocks; b++)
        {
            var blk = bytes.AsSpan(b * bb, bb);
            switch (type)
            {
                case DType.Q8_0 or DType.Q4_0: BinaryPrimitives.WriteUInt16LittleEndian(blk, RandomScale()); break;
                case DType.Q4_K:
                    BinaryPrimitives.WriteUInt16LittleEndian(blk, RandomScale());
                    BinaryPrimitives.WriteUInt16LittleEndian(blk.Slice(2), RandomScale());
                    break;
                case DType.Q6_K: BinaryPrimitives.WriteUInt16LittleEndian(blk.Slice(208), RandomScale()); break;
                case DType.Q8_K: BinaryPrimitives.WriteSingleLittleEndian(blk, (float)rng.NextDouble()); break;
            }
        }
        return bytes;
    }

    [Theory]
    [MemberData(nameof(BlockTypes))]
    public void Dequantize_MatchesFloat64ReferenceDecoder_OnRandomBlocks(DType type)
    {
        int blocks = 13;
        int n = blocks * DTypeInfo.BlockElements(type);
        var bytes = RandomBlockBytes(type, blocks, (int)type * 31);
        var ours = new float[n];
        BlockQuantizer.Dequantize(type, bytes, ours);
        var reference = Float64Reference.Decode(type, bytes, n);
        for (int i = 0; i < n; i++)
        {
            // Production decodes in f32 with GGML's operation order; allow a couple of f32 roundings of the magnitude.
            double tol = 4e-7 * Math.Max(Math.Abs(reference[i]), 1e-3);
            Assert.True(Math.Abs(ours[i] - reference[i]) <= tol, $"{type} element {i}: {ours[i]:R} vs {reference[i]:R}");
        }
    }

    [Fact]
    public void Q4_0_KnownBlock_LowNibbleIsElementJ_HighNibbleIsElementJPlus16()
    {
        var blk = new byte[18];
        BinaryPrimitives.WriteUInt16LittleEndian(blk, 0x3C00); // d = 1
        blk[2 + 0] = 0x9A;  // element 0 = 0xA − 8 = 2, element 16 = 0x9 − 8 = 1
        blk[2 + 15] = 0x0F; // element 15 = 7, element 31 = −8
        for (int j = 1; j < 15; j++) blk[2 + j] = 0x88; // zeros
        var y = new float[32];
        BlockQuantizer.Dequantize(DType.Q4_0, blk, y);
        Assert.Equal(2f, y[0]);
        Assert.Equal(1f, y[16]);
        Assert.Equal(7f, y[15]);
        Assert.Equal(-8f, y[31]);
        Assert.Equal(0f, y[5]);
        Assert.Equal(0f, y[20]);
    }

    [Fact]
    public void Q4_K_KnownBlock_ScalesMinsAndNibbleOrder()
    {
        var blk = new byte[144];
        BinaryPrimitives.WriteUInt16LittleEndian(blk, 0x3C00);       // d = 1
        BinaryPrimitives.WriteUInt16LittleEndian(blk.AsSpan(2), 0x3800); // dmin = 0.5
        var s = blk.AsSpan(4, 12);
        // Sub-block 1: scale 5 (byte 1 low 6 bits), min 3 (byte 5 low 6 bits).
        s[1] = 5; s[5] = 3;
        // Sub-block 6: scale 0b11_0110 = 54: low 4 bits (6) in byte 10's low nibble, top 2 bits (3) in byte 2 bits 6..7;
        //              min 0b10_0001 = 33: low 4 bits (1) in byte 10's high nibble, top 2 bits (2) in byte 6 bits 6..7.
        s[10] = 0x16; s[2] = 0xC0; s[6] = 0x80;
        var qs = blk.AsSpan(16);
        qs[7] = 0x90;        // group 0, byte 7: high nibble 9 → sub-block 1, element 32 + 7 = 39
        qs[96 + 4] = 0x0B;   // group 3, byte 4: low nibble 11 → sub-block 6, element 192 + 4 = 196
        var y = new float[256];
        BlockQuantizer.Dequantize(DType.Q4_K, blk, y);
        Assert.Equal(5f * 9 - 0.5f * 3, y[39]);
        Assert.Equal(-0.5f * 3, y[40]);     // same sub-block, code 0
        Assert.Equal(54f * 11 - 0.5f * 33, y[196]);
        Assert.Equal(-0.5f * 33, y[197]);
        Assert.Equal(0f, y[0]);             // sub-block 0: scale 0, min 0
        var reference = Float64Reference.Decode(DType.Q4_K, blk, 256);
        for (int i = 0; i < 256; i++) Assert.Equal(reference[i], y[i]);
    }

    [Fact]
    public void Q6_K_KnownBlock_ElementOrder()
    {
        var blk = new byte[210];
        // All codes 32 (value 0): low nibbles 0, high bits 2 → qh bytes 0b10101010.
        for (int i = 128; i < 192; i++) blk[i] = 0xAA;
        for (int s = 0; s < 16; s++) blk[192 + s] = (byte)(sbyte)(s - 8);
        BinaryPrimitives.WriteUInt16LittleEndian(blk.AsSpan(208), 0x4000); // d = 2
        // Element 128 + 64 + 20 = 212 (second half, quarter 2, l = 20): high nibble of ql[64 + 20], bits 4..5 of qh[32 + 20].
        // Code 0b01_0111 = 23 → q = −9; scale index 8 + 20/16 + 4 = 13 → scale 5.
        blk[64 + 20] = 0x70;
        blk[128 + 32 + 20] = (byte)((0xAA & ~0x30) | (0b01 << 4));
        // Element 32 + 3 = 35 (first half, quarter 1, l = 3): low nibble of ql[32 + 3], bits 2..3 of qh[3].
        // Code 0b11_1111 = 63 → q = 31; scale index 0 + 0 + 2 = 2 → scale −6.
        blk[32 + 3] = 0x0F;
        blk[128 + 3] = (byte)((0xAA & ~0x0C) | (0b11 << 2));
        var y = new float[256];
        BlockQuantizer.Dequantize(DType.Q6_K, blk, y);
        Assert.Equal(2f * 5 * -9, y[212]);
        Assert.Equal(2f * -6 * 31, y[35]);
        for (int i = 0; i < 256; i++)
            if (i != 212 && i != 35) Assert.True(y[i] == 0f, $"element {i} should be 0, is {y[i]}");
        var reference = Float64Reference.Decode(DType.Q6_K, blk, 256);
        for (int i = 0; i < 256; i++) Assert.Equal(reference[i], y[i]);
    }

    [Fact]
    public void Q4_K_ScalePacking_RoundTripsAndMatchesGgmlFieldLayout()
    {
        var rng = new Random(5);
        var packed = new byte[12];
        for (int trial = 0; trial < 500; trial++)
        {
            var sc = new byte[8];
            var mn = new byte[8];
            for (int j = 0; j < 8; j++) { sc[j] = (byte)rng.Next(64); mn[j] = (byte)rng.Next(64); }
            fixed (byte* p = packed)
            {
                BlockQuantizer.PackQ4KScales(sc, mn, p);
                BlockQuantizer.UnpackQ4KScales(p, out ulong us, out ulong um);
                for (int j = 0; j < 8; j++)
                {
                    Assert.Equal(sc[j], (byte)(us >> (8 * j)));
                    Assert.Equal(mn[j], (byte)(um >> (8 * j)));
                    Float64Reference.Q4KScaleMin(packed, j, out int rs, out int rm);
                    Assert.Equal(sc[j], rs);
                    Assert.Equal(mn[j], rm);
                }
            }
        }
    }

    [Fact]
    public void Q8_0_RoundTrip_ErrorWithinHalfStep()
    {
        // Bound: every element within half a quantization step d of its block (plus what clamping at ±127 can add when
        // fp16 rounded d below amax/127); stated relative RMS bound 0.8% for weight-like data.
        var x = WeightLike(37 * 32, 11);
        var bytes = BlockQuantizer.Quantize(DType.Q8_0, x);
        var y = new float[x.Length];
        BlockQuantizer.Dequantize(DType.Q8_0, bytes, y);
        for (int b = 0; b < x.Length / 32; b++)
        {
            double d = Float64Reference.Half(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(34 * b)));
            double amax = x.Skip(32 * b).Take(32).Max(v => Math.Abs(v));
            double bound = Math.Max(0.5 * d, amax - 127 * d) + 1e-7 * amax;
            for (int j = 32 * b; j < 32 * b + 32; j++) Assert.True(Math.Abs(x[j] - y[j]) <= bound, $"element {j}: {x[j]} -> {y[j]}, bound {bound}");
        }
        Assert.True(RelativeRms(x, y) < 0.008, $"Q8_0 relative RMS {RelativeRms(x, y)}");
    }

    [Fact]
    public void Q4_0_RoundTrip_ErrorWithinOneStep()
    {
        // Bound: |err| ≤ |d| per element (half a step, or one step where the +8 end clamps to 7); relative RMS < 11%.
        var x = WeightLike(41 * 32, 12);
        var bytes = BlockQuantizer.Quantize(DType.Q4_0, x);
        var y = new float[x.Length];
        BlockQuantizer.Dequantize(DType.Q4_0, bytes, y);
        for (int b = 0; b < x.Length / 32; b++)
        {
            double d = Math.Abs(Float64Reference.Half(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(18 * b))));
            for (int j = 32 * b; j < 32 * b + 32; j++) Assert.True(Math.Abs(x[j] - y[j]) <= d * 1.0001 + 1e-9, $"element {j}");
        }
        Assert.True(RelativeRms(x, y) < 0.11, $"Q4_0 relative RMS {RelativeRms(x, y)}");
    }

    [Fact]
    public void Q4_K_RoundTrip_BeatsMinMaxScaling_AndStaysUnder8Percent()
    {
        // Stated bounds: relative RMS < 8% on weight-like data with outliers, and no worse than the naive per-sub-block min/max grid.
        var x = WeightLike(13 * 256, 13);
        var bytes = BlockQuantizer.Quantize(DType.Q4_K, x);
        var y = new float[x.Length];
        BlockQuantizer.Dequantize(DType.Q4_K, bytes, y);
        double rms = RelativeRms(x, y);
        Assert.True(rms < 0.08, $"Q4_K relative RMS {rms}");
        // Naive: per 32, q = round((x − min)/((max − min)/15)) with unquantized scales (an optimistic baseline).
        var naive = new float[x.Length];
        for (int s = 0; s < x.Length / 32; s++)
        {
            var sub = x.AsSpan(32 * s, 32);
            float lo = Math.Min(0, sub.ToArray().Min()), hi = sub.ToArray().Max(), step = (hi - lo) / 15;
            for (int i = 0; i < 32; i++) naive[32 * s + i] = lo + step * MathF.Round((sub[i] - lo) / step);
        }
        Assert.True(rms <= RelativeRms(x, naive), $"Q4_K {rms} vs naive {RelativeRms(x, naive)}");
        // Every element lies within the reach of its sub-block's grid: no more than one step from the stored value.
        for (int b = 0; b < x.Length / 256; b++)
        {
            var blk = bytes.AsSpan(144 * b, 144);
            double d = Float64Reference.Half(BinaryPrimitives.ReadUInt16LittleEndian(blk));
            for (int sub = 0; sub < 8; sub++)
            {
                Float64Reference.Q4KScaleMin(blk.Slice(4, 12), sub, out int sc, out _);
                for (int i = 256 * b + 32 * sub; i < 256 * b + 32 * sub + 32; i++)
                    Assert.True(Math.Abs(x[i] - y[i]) <= d * sc + 1e-6, $"element {i}: {x[i]} -> {y[i]}, step {d * sc}");
            }
        }
    }

    [Fact]
    public void Q6_K_RoundTrip_Under2Percent()
    {
        // Stated bound: relative RMS < 2% on weight-like data; every element within one step of its sub-block.
        var x = WeightLike(7 * 256, 14);
        var bytes = BlockQuantizer.Quantize(DType.Q6_K, x);
        var y = new float[x.Length];
        BlockQuantizer.Dequantize(DType.Q6_K, bytes, y);
        double rms = RelativeRms(x, y);
        Assert.True(rms < 0.02, $"Q6_K relative RMS {rms}");
        for (int b = 0; b < x.Length / 256; b++)
        {
            var blk = bytes.AsSpan(210 * b, 210);
            double d = Float64Reference.Half(BinaryPrimitives.ReadUInt16LittleEndian(blk.Slice(208)));
            for (int s = 0; s < 16; s++)
            {
                double step = Math.Abs(d * (sbyte)blk[192 + s]);
                for (int i = 256 * b + 16 * s; i < 256 * b + 16 * s + 16; i++)
                    Assert.True(Math.Abs(x[i] - y[i]) <= step + 1e-6, $"element {i}: {x[i]} -> {y[i]}, step {step}");
            }
        }
    }

    [Fact]
    public void Q8_K_RoundTrip_HalfStepAndBlockSums()
    {
        var x = WeightLike(5 * 256, 15, 1f);
        var bytes = BlockQuantizer.Quantize(DType.Q8_K, x);
        var y = new float[x.Length];
        BlockQuantizer.Dequantize(DType.Q8_K, bytes, y);
        for (int b = 0; b < 5; b++)
        {
            var blk = bytes.AsSpan(292 * b, 292);
            float d = BinaryPrimitives.ReadSingleLittleEndian(blk);
            Assert.Equal(x.Skip(256 * b).Take(256).Max(v => Math.Abs(v)) / 127f, d);
            for (int i = 0; i < 256; i++) Assert.True(Math.Abs(x[256 * b + i] - y[256 * b + i]) <= 0.5f * d * 1.0001f);
            for (int g = 0; g < 16; g++)
            {
                int sum = 0;
                for (int i = 0; i < 16; i++) sum += (sbyte)blk[4 + 16 * g + i];
                Assert.Equal(sum, BinaryPrimitives.ReadInt16LittleEndian(blk.Slice(260 + 2 * g)));
            }
        }
    }

    [Fact]
    public void ActivationQuantizer_Q8_K_IsBitIdenticalToBlockQuantizer()
    {
        var x = WeightLike(9 * 256, 16, 3f);
        var expect = BlockQuantizer.Quantize(DType.Q8_K, x);
        var got = new byte[expect.Length];
        fixed (float* px = x)
        fixed (byte* pg = got)
            ActivationQuantizer.QuantizeQ8_K(px, x.Length, (BlockQ8_K*)pg);
        Assert.Equal(expect, got);
    }

    [Fact]
    public void ActivationQuantizer_Q8_0_QuantsScalesAndSums()
    {
        var x = WeightLike(11 * 32, 17, 2f);
        var q = new sbyte[x.Length];
        var d = new float[11];
        var sums = new int[11];
        fixed (float* px = x)
        fixed (sbyte* pq = q)
        fixed (float* pd = d)
        fixed (int* ps = sums)
            ActivationQuantizer.QuantizeQ8_0(px, x.Length, pq, pd, ps);
        for (int b = 0; b < 11; b++)
        {
            float amax = x.Skip(32 * b).Take(32).Max(v => Math.Abs(v));
            float scale = amax / 127f;
            Assert.Equal((float)(Half)scale, d[b]); // stored rounded to fp16, as GGML's block_q8_0 stores it
            int sum = 0;
            for (int j = 32 * b; j < 32 * b + 32; j++)
            {
                Assert.Equal((int)MathF.Round(x[j] * (1f / scale), MidpointRounding.ToEven), q[j]);
                sum += q[j];
            }
            Assert.Equal(sum, sums[b]);
        }
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F8E4M3)]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_0)]
    [InlineData(DType.Q4_K)]
    [InlineData(DType.Q6_K)]
    public void DequantizeRow_MatchesReference_ForEveryDType(DType type)
    {
        const int rows = 5, cols = 512;
        var x = WeightLike(rows * cols, 20 + (int)type, 0.5f);
        using var t = Tensor.Allocate(type, rows, cols);
        for (int r = 0; r < rows; r++) BlockQuantizer.Quantize(type, x.AsSpan(r * cols, cols), t.RowBytes(r));
        var row = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            BlockQuantizer.DequantizeRow(t, r, row);
            var reference = Float64Reference.Decode(type, t.RowBytes(r), cols);
            for (int c = 0; c < cols; c++)
                Assert.True(Math.Abs(row[c] - reference[c]) <= 4e-7 * Math.Max(Math.Abs(reference[c]), 1e-3), $"{type} [{r},{c}]");
        }
    }

    [Fact]
    public void DequantizeRow_Fp8AppliesBlockScalesAcrossTileBoundaries()
    {
        // 300 × 200 crosses tile boundaries in both directions and leaves partial tiles.
        const int rows = 300, cols = 200;
        var x = WeightLike(rows * cols, 21, 1f);
        using var w = Fp8BlockQuantizer.Quantize(x, rows, cols);
        Assert.NotNull(w.BlockScales);
        Assert.Equal([3, 2], w.BlockScales!.Shape);
        var row = new float[cols];
        foreach (int r in new[] { 0, 127, 128, 255, 256, 299 })
        {
            BlockQuantizer.DequantizeRow(w, r, row);
            for (int c = 0; c < cols; c++)
            {
                double expect = Float64Reference.E4M3(w.RowBytes(r)[c]) * w.BlockScales.RowSpan<float>(r / 128)[c / 128];
                Assert.True(Math.Abs(row[c] - expect) <= 1e-6 * Math.Abs(expect) + 1e-30, $"[{r},{c}] {row[c]} vs {expect}");
            }
        }
    }

    [Fact]
    public void Fp8BlockQuantizer_ScaleIsTileAmaxOver448_ErrorWithinHalfUlp()
    {
        const int rows = 200, cols = 260;
        var x = WeightLike(rows * cols, 22, 0.3f);
        // One all-zero tile (rows 128.., cols 128..255) must get scale 0 and zero codes.
        for (int r = 128; r < rows; r++) x.AsSpan(r * cols + 128, 128).Clear();
        using var w = Fp8BlockQuantizer.Quantize(x, rows, cols);
        var scales = w.BlockScales!;
        Assert.Equal([2, 3], scales.Shape);
        for (int ti = 0; ti < 2; ti++)
            for (int tj = 0; tj < 3; tj++)
            {
                float amax = 0;
                for (int r = ti * 128; r < Math.Min(rows, ti * 128 + 128); r++)
                    for (int c = tj * 128; c < Math.Min(cols, tj * 128 + 128); c++) amax = Math.Max(amax, Math.Abs(x[r * cols + c]));
                Assert.Equal(amax / 448f, scales.RowSpan<float>(ti)[tj]);
            }
        Assert.Equal(0f, scales.RowSpan<float>(1)[1]);
        var row = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            BlockQuantizer.DequantizeRow(w, r, row);
            for (int c = 0; c < cols; c++)
            {
                // E4M3 keeps 3 mantissa bits: half an ulp is 1/16 of the value's binade; subnormals step by 2^-9·scale.
                float s = scales.RowSpan<float>(r / 128)[c / 128];
                double bound = Math.Max(Math.Abs(x[r * cols + c]) / 16, s * Math.Pow(2, -10)) * 1.0001 + 1e-30;
                Assert.True(Math.Abs(row[c] - x[r * cols + c]) <= bound, $"[{r},{c}] {x[r * cols + c]} -> {row[c]}");
            }
        }
        Assert.All(w.RowBytes(150).Slice(128, 128).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void BadLengths_Throw()
    {
        // A partial block of source elements.
        Assert.Throws<ArgumentException>(() => BlockQuantizer.Quantize(DType.Q4_K, new float[255]));
        Assert.Throws<ArgumentException>(() => BlockQuantizer.Quantize(DType.Q8_0, new float[33]));
        // Destination of the wrong size, in both directions.
        Assert.Throws<ArgumentException>(() => BlockQuantizer.Quantize(DType.Q4_K, new float[256], new byte[143]));
        Assert.Throws<ArgumentException>(() => BlockQuantizer.Quantize(DType.Q4_K, new float[256], new byte[145]));
        // A Q4_K buffer one byte short, or one block short, for the requested elements.
        Assert.Throws<ArgumentException>(() => BlockQuantizer.Dequantize(DType.Q4_K, new byte[287], new float[512]));
        Assert.Throws<ArgumentException>(() => BlockQuantizer.Dequantize(DType.Q4_K, new byte[144], new float[512]));
        Assert.Throws<ArgumentException>(() => BlockQuantizer.Dequantize(DType.Q6_K, new byte[210], new float[255]));
        Assert.Throws<ArgumentException>(() => BlockQuantizer.Dequantize(DType.F16, new byte[7], new float[4]));
        using var t = Tensor.Allocate(DType.Q4_K, 3, 256);
        Assert.Throws<ArgumentException>(() => BlockQuantizer.DequantizeRow(t, 0, new float[255]));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlockQuantizer.DequantizeRow(t, 3, new float[256]));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlockQuantizer.DequantizeRow(t, -1, new float[256]));
        Assert.Throws<ArgumentException>(() => Fp8BlockQuantizer.Quantize(new float[10], 3, 4));
        Assert.Throws<ArgumentException>(() => Fp8BlockQuantizer.Quantize(new float[12], 3, 4, new byte[12], new float[2]));
    }

    [Fact]
    public void ZeroAndConstantBlocks_DecodeExactly()
    {
        foreach (var type in new[] { DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K, DType.Q8_K })
        {
            var zeros = new float[256];
            var y = new float[256];
            BlockQuantizer.Dequantize(type, BlockQuantizer.Quantize(type, zeros), y);
            Assert.All(y, v => Assert.Equal(0f, v));
        }
        // Q4_K represents a constant negative block through its mins alone, up to the fp16 rounding of dmin (2^-11 relative).
        var c = Enumerable.Repeat(-0.25f, 256).ToArray();
        var yc = new float[256];
        BlockQuantizer.Dequantize(DType.Q4_K, BlockQuantizer.Quantize(DType.Q4_K, c), yc);
        Assert.All(yc, v => Assert.InRange(v, -0.25f * (1 + 1f / 2048), -0.25f * (1 - 1f / 2048)));
    }

    internal static double RelativeRms(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double e = 0, s = 0;
        for (int i = 0; i < x.Length; i++) { e += (x[i] - y[i]) * (double)(x[i] - y[i]); s += x[i] * (double)x[i]; }
        return Math.Sqrt(e / s);
    }
}
