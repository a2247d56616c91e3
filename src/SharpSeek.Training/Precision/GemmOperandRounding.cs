using System.Numerics.Tensors;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Precision;

/// <summary>
/// Rounds GEMM operands to BF16 or to FP8 E4M3 with block scales, writing the rounded values back as f32.
/// </summary>
/// <remarks>
/// <para>This is a <b>simulation</b> of low-precision GEMMs, and honest about it: the CPU has no FP8 (and in .NET no
/// BF16) matrix instructions, so an operand is quantized and immediately dequantized (code × scale, exact in f32), and
/// the ordinary f32 GEMM multiplies the results. Products of two E4M3 (or BF16) values are exact in f32 and the sums
/// are accumulated in f32 over the whole reduction, which is what DeepSeek-V3's FP8 GEMM computes once its partial sums
/// are promoted to f32 every 128 elements. The numerics are therefore faithful; the speed is not: FP8 mode is slower
/// than f32 here, because quantizing costs extra passes and nothing runs on 8-bit hardware.</para>
/// <para>Scales follow DeepSeek's reference kernels: per tile s = amax / 448 and q = E4M3(x / s); an all-zero tile
/// stays zero. Encoding and decoding go through <see cref="Fp8E4M3Codec"/> (round-to-nearest-even, saturating).</para>
/// </remarks>
internal static unsafe class GemmOperandRounding
{
    /// <summary>DeepSeek-V3's FP8 tile edge.</summary>
    public const int Tile = 128;

    [ThreadStatic] private static float[]? t_amax, t_scale, t_row;
    [ThreadStatic] private static byte[]? t_codes;
    [ThreadStatic] private static ushort[]? t_halves;

    /// <summary>dst[r, c] = bf16(src[r, c]) for a contiguous [rows, cols] block (dst may equal src).</summary>
    public static void RoundToBf16(float* src, int rows, int cols, float* dst, ComputePool pool)
    {
        ParallelRange.For(pool, rows, Math.Max(1, 8192 / Math.Max(cols, 1)), (start, end) =>
        {
            var halves = Scratch(ref t_halves, cols);
            for (int r = start; r < end; r++)
            {
                var row = new ReadOnlySpan<float>(src + (long)r * cols, cols);
                Bf16Codec.FromSingle(row, halves);
                Bf16Codec.ToSingle(halves, new Span<float>(dst + (long)r * cols, cols));
            }
        });
    }

    /// <summary>
    /// Quantizes a contiguous [rows, cols] block to E4M3 with one scale per <paramref name="tileRows"/>×<paramref name="tileCols"/>
    /// tile (edge tiles are partial) and writes code × scale to <paramref name="dst"/> (may equal src).
    /// 1×128 = activations along their channels, 128×1 = along tokens, 128×128 = weight blocks.
    /// </summary>
    public static void QuantizeE4M3(float* src, int rows, int cols, int tileRows, int tileCols, float* dst, ComputePool pool)
    {
        int groups = (rows + tileRows - 1) / tileRows;
        int grain = Math.Max(1, 8192 / Math.Max(1, tileRows * cols));
        ParallelRange.For(pool, groups, grain, (start, end) =>
        {
            var amax = Scratch(ref t_amax, cols);
            var scale = Scratch(ref t_scale, cols);
            var row = Scratch(ref t_row, cols);
            var codes = Scratch(ref t_codes, cols);
            for (int g = start; g < end; g++)
            {
                int r0 = g * tileRows, r1 = Math.Min(rows, r0 + tileRows);
                // Per-column max |x| over the group's rows, then per tile over its columns.
                amax.Clear();
                for (int r = r0; r < r1; r++)
                {
                    var x = new ReadOnlySpan<float>(src + (long)r * cols, cols);
                    TensorPrimitives.Abs(x, row);
                    TensorPrimitives.Max(amax, row, amax);
                }
                for (int c0 = 0; c0 < cols; c0 += tileCols)
                {
                    int width = Math.Min(tileCols, cols - c0);
                    float s = TensorPrimitives.Max(amax.Slice(c0, width)) / Fp8E4M3Codec.MaxValue;
                    // An all-zero tile: any scale reproduces the zeros; 1 avoids 0/0.
                    scale.Slice(c0, width).Fill(s > 0 ? s : 1f);
                }
                for (int r = r0; r < r1; r++)
                {
                    var x = new ReadOnlySpan<float>(src + (long)r * cols, cols);
                    TensorPrimitives.Divide(x, scale, row);
                    Fp8E4M3Codec.FromSingle(row, codes);
                    Fp8E4M3Codec.ToSingle(codes, row);
                    TensorPrimitives.Multiply(row, scale, new Span<float>(dst + (long)r * cols, cols));
                }
            }
        });
    }

    private static Span<TElement> Scratch<TElement>(ref TElement[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new TElement[Math.Max(length, 256)];
        return buffer.AsSpan(0, length);
    }
}
