using SharpSeek.Tensors;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Ops;
using SharpSeek.Training.Precision;

namespace SharpSeek.Training.Tests;

/// <summary>The BF16/FP8 GEMM-input simulation: exact agreement with the codecs and DeepSeek's block quantizer, the right tiles, and its effect on a linear layer.</summary>
public unsafe class PrecisionTests
{
    private static float[] RandomValues(int n, int seed, double spread = 3)
    {
        var rng = new DeterministicRandom((ulong)seed);
        // Log-uniform magnitudes over several octaves, random signs: exercises normals, subnormals and the largest code.
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() < 0.5 ? -1 : 1) * Math.Exp((rng.NextDouble() - 0.5) * 2 * spread))).ToArray();
    }

    [Fact]
    public void Fp8WeightBlocksMatchDeepSeeksBlockQuantizer()
    {
        int rows = 200, cols = 300; // partial edge blocks on both axes
        var w = RandomValues(rows * cols, 1);
        var codes = new byte[rows * cols];
        var scales = new float[2 * 3];
        Fp8BlockQuantizer.Quantize(w, rows, cols, codes, scales);
        var mine = new float[w.Length];
        fixed (float* src = w, dst = mine)
            GemmOperandRounding.QuantizeE4M3(src, rows, cols, 128, 128, dst, GradientCheck.Pool);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                float expect = Fp8E4M3Codec.ToSingle(codes[r * cols + c]) * scales[r / 128 * 3 + c / 128];
                Assert.Equal(expect, mine[r * cols + c]);
            }
    }

    [Theory]
    [InlineData(1, 128)]
    [InlineData(128, 1)]
    public void Fp8ActivationTilesScaleByTheirOwnMaximum(int tileRows, int tileCols)
    {
        int rows = 260, cols = 200;
        var x = RandomValues(rows * cols, 2);
        var mine = new float[x.Length];
        fixed (float* src = x, dst = mine)
            GemmOperandRounding.QuantizeE4M3(src, rows, cols, tileRows, tileCols, dst, GradientCheck.Pool);
        for (int r0 = 0; r0 < rows; r0 += tileRows)
            for (int c0 = 0; c0 < cols; c0 += tileCols)
            {
                int r1 = Math.Min(rows, r0 + tileRows), c1 = Math.Min(cols, c0 + tileCols);
                float amax = 0;
                for (int r = r0; r < r1; r++) for (int c = c0; c < c1; c++) amax = Math.Max(amax, Math.Abs(x[r * cols + c]));
                float scale = amax / 448f;
                for (int r = r0; r < r1; r++)
                    for (int c = c0; c < c1; c++)
                        Assert.Equal(Fp8E4M3Codec.ToSingle(Fp8E4M3Codec.FromSingle(x[r * cols + c] / scale)) * scale, mine[r * cols + c]);
            }
    }

    [Fact]
    public void Fp8KeepsAZeroTileZeroAndAnOutlierDoesNotLeakAcrossTiles()
    {
        int cols = 256;
        var x = new float[cols];
        for (int c = 128; c < cols; c++) x[c] = 0.001f * (c - 190);
        x[200] = 1000f; // outlier in the second tile only
        var mine = new float[cols];
        fixed (float* src = x, dst = mine)
            GemmOperandRounding.QuantizeE4M3(src, 1, cols, 1, 128, dst, GradientCheck.Pool);
        for (int c = 0; c < 128; c++) Assert.Equal(0f, mine[c]);
        Assert.Equal(1000f, mine[200]); // the tile maximum lands exactly on 448·scale
    }

    [Fact]
    public void Bf16RoundingMatchesTheCodec()
    {
        var x = RandomValues(1000, 3, spread: 20);
        var mine = new float[x.Length];
        fixed (float* src = x, dst = mine)
            GemmOperandRounding.RoundToBf16(src, 10, 100, dst, GradientCheck.Pool);
        for (int i = 0; i < x.Length; i++) Assert.Equal(Bf16Codec.ToSingle(Bf16Codec.FromSingle(x[i])), mine[i]);
    }

    [Theory]
    [InlineData(GemmPrecision.BF16, 0.006, 0.006)]
    [InlineData(GemmPrecision.FP8, 0.05, 0.05)]
    public void LowPrecisionLinearStaysCloseToF32(GemmPrecision precision, double forwardTolerance, double gradientTolerance)
    {
        // Relative RMS error of y, dx and dW against f32. Rounding to p mantissa bits leaves a uniform error of half
        // an ulp, RMS ≈ 2^-p/√12 relative, i.e. 1.8–3.6% for E4M3 (p = 3) and 0.11–0.23% for BF16 (p = 7), and the two
        // rounded operands add in quadrature (×√2): expect ≈3.7% and ≈0.3%. Independent errors keep that relative
        // level through the GEMM's sums. A wrong tile (one scale for a whole row, say) or a missed operand breaks it.
        int n = 300, k = 256, m = 192;
        using var x32 = new Parameter<float>("x", [n, k], ParameterRole.Matrix);
        using var w32 = new Parameter<float>("w", [m, k], ParameterRole.Matrix);
        RandomValues(n * k, 4, 1).CopyTo(x32.Values);
        RandomValues(m * k, 5, 1).CopyTo(w32.Values);
        var dy = RandomValues(n * m, 6, 1);

        (float[] Y, float[] Dx, float[] Dw) Run(GemmPrecision p)
        {
            x32.ZeroGrad();
            w32.ZeroGrad();
            using var tape = new Tape<float>(GradientCheck.Pool, new PrecisionPolicy(p, p, p));
            var y = tape.Linear(tape.Leaf(x32), tape.Leaf(w32), p);
            var yv = y.Values.ToArray();
            var seed = new ProjectionSeed(y, dy);
            tape.Record(seed, seed.Loss(tape));
            tape.Backward(seed.LossNode!, 1f);
            return (yv, x32.Gradients.ToArray(), w32.Gradients.ToArray());
        }

        var exact = Run(GemmPrecision.F32);
        var low = Run(precision);
        double ey = RelativeRms(exact.Y, low.Y), edx = RelativeRms(exact.Dx, low.Dx), edw = RelativeRms(exact.Dw, low.Dw);
        string report = $"{precision}: relative RMS error y {ey:E2}, dx {edx:E2}, dW {edw:E2}";
        Assert.True(ey > 1e-6 && edx > 1e-6 && edw > 1e-6, $"{report}: the rounding did not happen");
        Assert.True(ey < forwardTolerance && edx < gradientTolerance && edw < gradientTolerance, report);
    }

    private static double RelativeRms(float[] exact, float[] approx)
    {
        double num = 0, den = 0;
        for (int i = 0; i < exact.Length; i++) { num += Math.Pow(exact[i] - approx[i], 2); den += (double)exact[i] * exact[i]; }
        return Math.Sqrt(num / den);
    }

    /// <summary>L = Σ dy ⊙ y for a fixed dy, in f32: seeds a chosen output gradient.</summary>
    private sealed class ProjectionSeed(Node<float> y, float[] dy) : TapeStep
    {
        public Node<float>? LossNode { get; private set; }

        public Node<float> Loss(Tape<float> tape)
        {
            LossNode = tape.NewNode(1, 1, true);
            LossNode.Value[0] = 0;
            return LossNode;
        }

        public override void Backward()
        {
            float g = LossNode!.Grad[0];
            float* d = y.Grad;
            for (int i = 0; i < dy.Length; i++) d[i] += g * dy[i];
        }
    }
}
