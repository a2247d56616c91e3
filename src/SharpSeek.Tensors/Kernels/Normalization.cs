using System.Numerics.Tensors;

namespace SharpSeek.Tensors.Kernels;

/// <summary>RMSNorm: y = x · rsqrt(mean(x²) + eps) · w.</summary>
public static class Normalization
{
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps)
    {
        if (weight.Length != x.Length || y.Length != x.Length)
            throw new ArgumentException($"RmsNorm: x has {x.Length} elements, weight {weight.Length}, output {y.Length}; all must match");
        // Sum of squares in f32 with SIMD partial sums is accurate enough for rows of a few thousand (tested vs f64).
        float ss = TensorPrimitives.SumOfSquares(x);
        float inv = 1f / MathF.Sqrt(ss / x.Length + eps);
        TensorPrimitives.Multiply(x, inv, y);
        TensorPrimitives.Multiply(y, weight, y);
    }

    /// <summary>Row-wise RMSNorm over <paramref name="rows"/> rows of <paramref name="weight"/>.Length elements.</summary>
    public static void RmsNormRows(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, int rows, float eps)
    {
        int d = weight.Length;
        if (x.Length < (long)rows * d || y.Length < (long)rows * d)
            throw new ArgumentException($"RmsNormRows: {rows} rows of {d} need {(long)rows * d} elements; x has {x.Length}, y {y.Length}");
        for (int r = 0; r < rows; r++) RmsNorm(x.Slice(r * d, d), weight, y.Slice(r * d, d), eps);
    }
}
