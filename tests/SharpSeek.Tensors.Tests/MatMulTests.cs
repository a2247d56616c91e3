using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Tests.Reference;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Tests;

/// <summary>
/// <see cref="MatMul.Linear"/> against float64 dot products of the dequantized weights with the f32 activations.
/// </summary>
/// <remarks>
/// Tolerances, per output element y = Σ_{c&lt;K} w_c x_c (u = 2⁻²⁴, the f32 unit roundoff):
/// <list type="bullet">
/// <item>f32 accumulation. Weights widen to f32 exactly (F16, BF16 and E4M3 values are all f32 values), so the only
/// rounding is in the sum. The vector paths keep 16 lane accumulators (each FMA rounds once), sum them in a 4-level
/// tree and, for FP8, fold each 128-column block partial once more: at most n = ⌈K/16⌉ + 6 roundings on any path from a
/// product to y, hence |err| ≤ n·u·Σ|w_c x_c| (first order; n·u ≪ 1). Without SIMD the sum is sequential, n = K + 2.</item>
/// <item>Q8_0 / Q4_0 activations are quantized per 32 with step d = amax/127 and the stored scale rounded to fp16:
/// each activation moves by at most d/2 + amax·2⁻¹¹ (the fp16 rounding of the scale times |q·d| ≤ amax). Q4_K / Q6_K
/// (Q8_K, per 256, f32 scale): at most d/2. So |err| additionally ≤ Σ_blocks (that bound) · Σ_block |w_c|. Products of
/// integer quants are exact; their float accumulation is covered by the first term.</item>
/// </list>
/// </remarks>
public sealed class MatMulTests : IDisposable
{
    private readonly ComputePool _pool2 = new(2);
    private readonly ComputePool _pool1 = new(1);

    public void Dispose()
    {
        _pool2.Dispose();
        _pool1.Dispose();
    }

    public static TheoryData<DType, int> Cases()
    {
        var data = new TheoryData<DType, int>();
        foreach (var t in new[] { DType.F32, DType.F16, DType.BF16, DType.F8E4M3, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K })
            foreach (int m in new[] { 1, 3, 17, 67 }) // single row, a tile edge, several tiles, packed weight tiles
                data.Add(t, m);
        return data;
    }

    /// <summary>K per dtype: odd lengths with tails for float types, odd block counts for block types.</summary>
    private static int KFor(DType t) => t switch
    {
        DType.Q4_K or DType.Q6_K => 13 * 256,
        DType.Q8_0 or DType.Q4_0 => 101 * 32,
        DType.F8E4M3 => 1000 + 7,
        _ => 1024 + 7,
    };

    /// <summary>Block size the activations are quantized in for this weight dtype (0: not quantized).</summary>
    private static int ActivationBlock(DType t) => t switch
    {
        DType.Q8_0 or DType.Q4_0 => 32,
        DType.Q4_K or DType.Q6_K => 256,
        _ => 0,
    };

    internal static Tensor MakeWeight(DType type, int n, int k, int seed)
    {
        var w = QuantizationBlockTests.WeightLike(n * k, seed, 0.05f);
        if (type == DType.F8E4M3)
        {
            // Vary magnitudes per tile so the block scales really differ.
            for (int r = 0; r < n; r++)
                for (int c = 0; c < k; c++) w[r * k + c] *= 1 + (r / 128 + 3 * (c / 128)) % 5;
            return Fp8BlockQuantizer.Quantize(w, n, k);
        }
        var t = Tensor.Allocate(type, n, k);
        for (int r = 0; r < n; r++) BlockQuantizer.Quantize(type, w.AsSpan(r * k, k), t.RowBytes(r));
        return t;
    }

    internal static float[] Activations(int m, int k, int seed)
    {
        var x = QuantizationBlockTests.WeightLike(m * k, seed, 1f);
        // A few large activations, as real hidden states have.
        var rng = new Random(seed);
        for (int i = 0; i < x.Length / 97; i++) x[rng.Next(x.Length)] *= 20;
        return x;
    }

    private static void AssertMatchesReference(Tensor weight, float[] x, float[] y, int m)
    {
        int n = (int)weight.Rows, k = weight.Cols;
        var w = Float64Reference.DecodeMatrix(weight);
        int blk = ActivationBlock(weight.DType);
        bool fp16Scale = weight.DType is DType.Q8_0 or DType.Q4_0;
        // Roundings from a product to y (see the remarks): 16 lanes + tree + FP8 fold on the vector paths, sequential without.
        double roundings = System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? (k + 15) / 16 + 6 : k + 2;
        const double U = 1.0 / (1 << 24);
        for (int i = 0; i < m; i++)
        {
            var xi = x.AsSpan(i * k, k);
            for (int j = 0; j < n; j++)
            {
                var wj = w.AsSpan(j * k, k);
                double expect = Float64Reference.Dot(wj, xi);
                double absSum = 0;
                for (int c = 0; c < k; c++) absSum += Math.Abs(wj[c] * xi[c]);
                double tol = 1.01 * roundings * U * absSum + 1e-30;
                if (blk > 0)
                    for (int b = 0; b < k / blk; b++)
                    {
                        double amax = 0, wAbs = 0;
                        for (int c = b * blk; c < (b + 1) * blk; c++) { amax = Math.Max(amax, Math.Abs(xi[c])); wAbs += Math.Abs(wj[c]); }
                        tol += (amax / 254 + (fp16Scale ? amax / 2048 : 0)) * wAbs * 1.0001;
                    }
                double got = y[i * n + j];
                Assert.True(Math.Abs(got - expect) <= tol, $"{weight.DType} y[{i},{j}] = {got:R}, reference {expect:R}, tolerance {tol:G3}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Linear_MatchesFloat64Reference(DType type, int m)
    {
        const int n = 301;
        int k = KFor(type);
        using var weight = MakeWeight(type, n, k, 1000 + (int)type);
        var x = Activations(m, k, 77 + m);
        foreach (var pool in new[] { _pool1, _pool2 })
        {
            var y = new float[m * n];
            MatMul.Linear(weight, x, y, m, pool);
            AssertMatchesReference(weight, x, y, m);
        }
    }

    public static TheoryData<DType, int, int> RaggedCases()
    {
        var data = new TheoryData<DType, int, int>();
        foreach (var t in new[] { DType.F32, DType.F16, DType.BF16 })
            foreach (int k in new[] { 1, 5, 15, 16, 17, 33, 127, 128, 129 }) // inside, at and past one 16-lane vector
                foreach (int m in new[] { 1, 3, 17 })
                    data.Add(t, k, m);
        foreach (int k in new[] { 1, 16, 100, 128, 129, 192, 250 })          // FP8: ragged vectors and 128-column blocks
            foreach (int m in new[] { 1, 3, 17 })
                data.Add(DType.F8E4M3, k, m);
        foreach (var t in new[] { DType.Q8_0, DType.Q4_0 })
            foreach (int k in new[] { 32, 64, 96, 8 * 32, 9 * 32 })          // one block, a pair, an odd count, 8-block groups ± 1
                foreach (int m in new[] { 1, 3, 17 })
                    data.Add(t, k, m);
        foreach (var t in new[] { DType.Q4_K, DType.Q6_K })
            foreach (int m in new[] { 1, 3, 17 })
                data.Add(t, 256, m);                                         // a single super-block
        return data;
    }

    [Theory]
    [MemberData(nameof(RaggedCases))]
    public void Linear_ShortAndRaggedK_MatchesFloat64Reference(DType type, int k, int m)
    {
        const int n = 37;
        using var weight = MakeWeight(type, n, k, 11000 + k + (int)type);
        var x = Activations(m, k, 300 + k + m);
        foreach (var pool in new[] { _pool1, _pool2 })
        {
            var y = new float[m * n];
            MatMul.Linear(weight, x, y, m, pool);
            AssertMatchesReference(weight, x, y, m);
        }
    }

    [Theory]
    [InlineData(1, 17 * 64)]   // whole 64-column groups: the byte-lookup path (with AVX-512 VBMI), last 128-block half full
    [InlineData(5, 17 * 64)]
    [InlineData(1, 7 * 128)]
    [InlineData(4, 7 * 128)]
    [InlineData(2, 1000 + 7)]  // ragged K: the arithmetic-widening path
    public void Linear_Fp8_MatchesFloat64Reference_OnBothKernelPaths(int m, int k)
    {
        const int n = 260;
        using var weight = MakeWeight(DType.F8E4M3, n, k, 6000 + k);
        var x = Activations(m, k, 9 + m);
        var y = new float[m * n];
        MatMul.Linear(weight, x, y, m, _pool2);
        AssertMatchesReference(weight, x, y, m);
    }

    [Theory]
    [InlineData(1, 4 * 64)]
    [InlineData(4, 4 * 64)]
    [InlineData(1, 250)]
    public void Linear_Fp8_NaNCodeMakesItsOutputNaN(int m, int k)
    {
        const int n = 9;
        using var weight = MakeWeight(DType.F8E4M3, n, k, 7000);
        weight.RowBytes(3)[k - 5] = 0x7F;  // S.1111.111
        weight.RowBytes(6)[70] = 0xFF;
        var x = Activations(m, k, 10);
        var y = new float[m * n];
        MatMul.Linear(weight, x, y, m, _pool1);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                Assert.Equal(j is 3 or 6, float.IsNaN(y[i * n + j]));
    }

    [Theory]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_0)]
    [InlineData(DType.Q4_K)]
    [InlineData(DType.Q6_K)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F8E4M3)]
    public void Linear_ErrorIsActivationRoundingNoise_NotBias(DType type)
    {
        // Beyond the worst-case bound: rounding an activation to a step d leaves uniform noise of variance d²/12, so over
        // many outputs the RMS error must match sqrt(Σ w² d²/12) — a wrong offset or scale (a systematic error) would
        // blow through 1.25× that. Float weights have no activation rounding: their error must be at f32 level (1e-6).
        const int n = 257, m = 3;
        int k = KFor(type);
        int blk = ActivationBlock(type);
        using var weight = MakeWeight(type, n, k, 2000 + (int)type);
        var x = Activations(m, k, 5);
        var y = new float[m * n];
        MatMul.Linear(weight, x, y, m, _pool2);
        var w = Float64Reference.DecodeMatrix(weight);
        double err = 0, norm = 0, predicted = 0;
        for (int i = 0; i < m; i++)
        {
            var xi = x.AsSpan(i * k, k);
            var step = new double[k];
            if (blk > 0)
                for (int b = 0; b < k / blk; b++)
                {
                    double amax = 0;
                    for (int c = b * blk; c < (b + 1) * blk; c++) amax = Math.Max(amax, Math.Abs(xi[c]));
                    for (int c = b * blk; c < (b + 1) * blk; c++) step[c] = amax / 127;
                }
            for (int j = 0; j < n; j++)
            {
                var wj = w.AsSpan(j * k, k);
                double e = Float64Reference.Dot(wj, xi);
                err += (y[i * n + j] - e) * (y[i * n + j] - e);
                norm += e * e;
                for (int c = 0; c < k; c++) predicted += wj[c] * wj[c] * step[c] * step[c] / 12;
            }
        }
        double rms = Math.Sqrt(err), expect = Math.Sqrt(predicted);
        if (blk > 0)
            Assert.True(rms <= 1.25 * expect && rms >= 0.75 * expect, $"{type}: RMS error {rms:G4}, rounding noise predicts {expect:G4}");
        else
            Assert.True(rms <= 1e-6 * Math.Sqrt(norm), $"{type}: relative RMS error {rms / Math.Sqrt(norm):G3}");
    }

    [Theory]
    [InlineData(DType.Q4_K)]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.BF16)]
    public void Linear_OnNarrowedWeight_EqualsRowsOfFullResult(DType type)
    {
        const int n = 64, m = 2;
        int k = KFor(type);
        using var weight = MakeWeight(type, n, k, 3000);
        var x = Activations(m, k, 6);
        var full = new float[m * n];
        MatMul.Linear(weight, x, full, m, _pool1);
        var view = weight.Narrow(10, 21);
        var part = new float[m * 21];
        MatMul.Linear(view, x, part, m, _pool1);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < 21; j++) Assert.Equal(full[i * n + 10 + j], part[i * 21 + j]);
    }

    [Fact]
    public void Linear_SingleRowEqualsBatchedRows_ForIntegerPaths()
    {
        // The int8 paths quantize each activation row independently, so batching must not change a single bit.
        foreach (var type in new[] { DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K })
        {
            const int n = 45, m = 6;
            int k = KFor(type);
            using var weight = MakeWeight(type, n, k, 4000 + (int)type);
            var x = Activations(m, k, 7);
            var batched = new float[m * n];
            MatMul.Linear(weight, x, batched, m, _pool2);
            var one = new float[n];
            for (int i = 0; i < m; i++)
            {
                MatMul.Linear(weight, x.AsSpan(i * k, k), one, 1, _pool2);
                Assert.Equal(one, batched.AsSpan(i * n, n).ToArray());
            }
        }
    }

    [Fact]
    public void Linear_LargerBuffersThanNeeded_WriteOnlyTheResult()
    {
        const int n = 33, m = 2;
        int k = KFor(DType.Q4_K);
        using var weight = MakeWeight(DType.Q4_K, n, k, 5000);
        var x = Activations(m, k, 8).Concat(new float[100]).ToArray();
        var y = Enumerable.Repeat(123f, m * n + 5).ToArray();
        MatMul.Linear(weight, x, y, m, _pool2);
        AssertMatchesReference(weight, x, y, m);
        Assert.All(y.AsSpan(m * n).ToArray(), v => Assert.Equal(123f, v));
    }

    [Fact]
    public void Linear_ZeroRowsOrColumns()
    {
        using var weight = MakeWeight(DType.Q8_0, 8, 64, 1);
        MatMul.Linear(weight, ReadOnlySpan<float>.Empty, Span<float>.Empty, 0, _pool1);
        using var empty = Tensor.Allocate(DType.F32, 3, 0);
        var y = new float[6] { 1, 2, 3, 4, 5, 6 };
        MatMul.Linear(empty, ReadOnlySpan<float>.Empty, y, 2, _pool1);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Linear_BadInputs_Throw()
    {
        using var q4k = MakeWeight(DType.Q4_K, 4, 512, 2);
        Assert.Throws<ArgumentException>(() => MatMul.Linear(q4k, new float[511], new float[4], 1, _pool1));     // x short
        Assert.Throws<ArgumentException>(() => MatMul.Linear(q4k, new float[512], new float[3], 1, _pool1));     // y short
        Assert.Throws<ArgumentException>(() => MatMul.Linear(q4k, new float[1024], new float[7], 2, _pool1));    // y short for m = 2
        Assert.Throws<ArgumentOutOfRangeException>(() => MatMul.Linear(q4k, new float[512], new float[4], -1, _pool1));
        Assert.Throws<ArgumentNullException>(() => MatMul.Linear(null!, new float[512], new float[4], 1, _pool1));

        using var fp8 = Tensor.Allocate(DType.F8E4M3, 4, 256); // no block scales attached
        Assert.Throws<ArgumentException>(() => MatMul.Linear(fp8, new float[256], new float[4], 1, _pool1));

        using var vector = Tensor.Allocate(DType.F32, 16);
        Assert.Throws<ArgumentException>(() => MatMul.Linear(vector, new float[16], new float[1], 1, _pool1));
        using var q8k = Tensor.Allocate(DType.Q8_K, 2, 256);
        Assert.Throws<NotSupportedException>(() => MatMul.Linear(q8k, new float[256], new float[2], 1, _pool1));
    }

    [Fact]
    public unsafe void Q4_KWeightOverTooShortBuffer_IsRejected()
    {
        // A Q4_K matrix [4, 512] needs 4·2·144 bytes; a mapping one byte short must be refused before any kernel reads it.
        using var buffer = new NativeBuffer(4 * 2 * 144 - 1);
        Assert.Throws<ArgumentException>(() => Tensor.FromPointer(DType.Q4_K, [4, 512], buffer.Pointer, buffer.Length, null));
        // Rows that are not whole blocks cannot exist either.
        Assert.Throws<ArgumentException>(() => Tensor.Allocate(DType.Q4_K, 4, 500));
    }
}
