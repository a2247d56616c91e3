using SharpSeek.Tensors;
using SharpSeek.Tensors.Quantization;

namespace SharpSeek.Checkpoints;

/// <summary>Turns <see cref="TensorValues"/> into a stored tensor of a given dtype, a chunk of rows at a time, in parallel.</summary>
public static class TensorEncoder
{
    /// <summary>Floats decoded per work item (rows are never split).</summary>
    private const int ChunkFloats = 1 << 18;

    /// <summary>
    /// Encodes <paramref name="values"/> as <paramref name="dtype"/>. A stored tensor that already has that dtype is
    /// returned as a view (re-quantising a quantised tensor would lose precision for nothing). F8E4M3 gets DeepSeek's
    /// 128×128 block scales attached (2-D weights only).
    /// </summary>
    public static Tensor Encode(TensorValues values, DType dtype)
    {
        if (values is StoredTensorValues stored && stored.Tensor.DType == dtype && stored.Tensor.IsContiguous && dtype != DType.F8E4M3)
            return stored.Tensor.Reshape(values.Shape);
        if (dtype == DType.F8E4M3) return EncodeFp8(values);
        int block = DTypeInfo.BlockElements(dtype);
        if (values.Cols % block != 0)
            throw new ArgumentException($"{dtype} stores rows in blocks of {block}, but rows of [{string.Join(", ", values.Shape)}] have {values.Cols} elements");
        var result = Tensor.Allocate(dtype, values.Shape);
        try
        {
            int cols = values.Cols;
            int rowsPerChunk = Math.Max(1, ChunkFloats / cols);
            long rowBytes = DTypeInfo.ByteCount(dtype, cols);
            long chunks = (values.Rows + rowsPerChunk - 1) / rowsPerChunk;
            Parallel.For(0L, chunks, () => new float[(long)rowsPerChunk * cols], (chunk, _, buffer) =>
            {
                long first = chunk * rowsPerChunk;
                int count = (int)Math.Min(rowsPerChunk, values.Rows - first);
                var floats = buffer.AsSpan(0, count * cols);
                values.ReadRows(first, count, floats);
                unsafe
                {
                    var dst = new Span<byte>(result.Data + first * rowBytes, checked((int)(count * rowBytes)));
                    BlockQuantizer.Quantize(dtype, floats, dst);
                }
                return buffer;
            }, _ => { });
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    private static unsafe Tensor EncodeFp8(TensorValues values)
    {
        if (values.Shape.Length != 2)
            throw new ArgumentException($"FP8 block scaling is defined for 2-D weights, not [{string.Join(", ", values.Shape)}]");
        long rows = values.Rows;
        int cols = values.Cols;
        int tile = Fp8BlockQuantizer.TileSize;
        int tileRows = (int)((rows + tile - 1) / tile), tileCols = (cols + tile - 1) / tile;
        var weight = Tensor.Allocate(DType.F8E4M3, values.Shape);
        var scales = Tensor.Allocate(DType.F32, tileRows, tileCols);
        try
        {
            Parallel.For(0, tileRows, () => new float[(long)tile * cols], (slab, _, buffer) =>
            {
                long first = (long)slab * tile;
                int count = (int)Math.Min(tile, rows - first);
                var floats = buffer.AsSpan(0, count * cols);
                values.ReadRows(first, count, floats);
                var codes = new Span<byte>(weight.Data + first * cols, count * cols);
                var scaleRow = new Span<float>((float*)scales.Data + (long)slab * tileCols, tileCols);
                Fp8BlockQuantizer.Quantize(floats, count, cols, codes, scaleRow);
                return buffer;
            }, _ => { });
            return weight.WithBlockScales(scales);
        }
        catch
        {
            weight.Dispose();
            scales.Dispose();
            throw;
        }
    }
}
