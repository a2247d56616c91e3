namespace SharpSeek.Tensors.Quantization;

/// <summary>
/// DeepSeek-V3's FP8 weight format: a [rows, cols] matrix as E4M3 codes plus one F32 scale per 128×128 tile
/// (<c>weight_scale_inv</c>, shape [ceil(rows/128), ceil(cols/128)]), with w[i,j] = fp8[i,j] · scale[i/128, j/128] and
/// scale = tile amax / 448 so each tile's largest magnitude lands on E4M3's largest finite value.
/// </summary>
public static class Fp8BlockQuantizer
{
    public const int TileSize = Tensor.Fp8BlockSize;

    /// <summary>Quantizes row-major <paramref name="src"/> into an F8E4M3 tensor [rows, cols] with its block scales attached.</summary>
    public static Tensor Quantize(ReadOnlySpan<float> src, int rows, int cols)
    {
        ValidateShape(src.Length, rows, cols);
        int tr = (rows + TileSize - 1) / TileSize, tc = (cols + TileSize - 1) / TileSize;
        var weight = Tensor.Allocate(DType.F8E4M3, rows, cols);
        var scales = Tensor.Allocate(DType.F32, tr, tc);
        try
        {
            Quantize(src, rows, cols, weight.AsSpan<byte>(), scales.AsSpan<float>());
            return weight.WithBlockScales(scales);
        }
        catch
        {
            weight.Dispose();
            scales.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Quantizes into caller buffers: <paramref name="codes"/> of rows·cols bytes and <paramref name="scales"/> of
    /// ceil(rows/128)·ceil(cols/128) floats (row-major tiles). An all-zero tile gets scale 0 and zero codes.
    /// </summary>
    public static void Quantize(ReadOnlySpan<float> src, int rows, int cols, Span<byte> codes, Span<float> scales)
    {
        ValidateShape(src.Length, rows, cols);
        int tr = (rows + TileSize - 1) / TileSize, tc = (cols + TileSize - 1) / TileSize;
        if (codes.Length != (long)rows * cols) throw new ArgumentException($"FP8 codes for [{rows}, {cols}] need {(long)rows * cols} bytes, got {codes.Length}", nameof(codes));
        if (scales.Length != (long)tr * tc) throw new ArgumentException($"FP8 scales for [{rows}, {cols}] need [{tr}, {tc}] = {tr * tc} floats, got {scales.Length}", nameof(scales));
        Span<float> scaled = stackalloc float[TileSize];
        for (int bi = 0; bi < tr; bi++)
        {
            int r0 = bi * TileSize, r1 = Math.Min(rows, r0 + TileSize);
            for (int bj = 0; bj < tc; bj++)
            {
                int c0 = bj * TileSize, width = Math.Min(cols, c0 + TileSize) - c0;
                float amax = 0;
                for (int r = r0; r < r1; r++)
                    amax = MathF.Max(amax, MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(src.Slice(r * cols + c0, width))));
                float scale = amax / Fp8E4M3Codec.MaxValue;
                scales[bi * tc + bj] = scale;
                var tile = scaled.Slice(0, width);
                for (int r = r0; r < r1; r++)
                {
                    var dst = codes.Slice(r * cols + c0, width);
                    if (scale == 0) { dst.Clear(); continue; }
                    System.Numerics.Tensors.TensorPrimitives.Divide(src.Slice(r * cols + c0, width), scale, tile);
                    Fp8E4M3Codec.FromSingle(tile, dst);
                }
            }
        }
    }

    private static void ValidateShape(int length, int rows, int cols)
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentException($"FP8 block quantization needs a positive shape, got [{rows}, {cols}]");
        if (length != (long)rows * cols) throw new ArgumentException($"source holds {length} floats but [{rows}, {cols}] needs {(long)rows * cols}");
    }
}
