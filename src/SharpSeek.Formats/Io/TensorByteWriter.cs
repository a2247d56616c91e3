using SharpSeek.Tensors;

namespace SharpSeek.Formats;

/// <summary>Streams a tensor's bytes to a file straight from its native memory, in bounded chunks.</summary>
internal static unsafe class TensorByteWriter
{
    // Spans are int-indexed, so big tensors go out in pieces; 64 MiB keeps each write call large enough to be cheap.
    private const int ChunkBytes = 64 << 20;

    /// <summary>Bytes a tensor of this dtype and shape takes in a file (no padding).</summary>
    public static long StoredBytes(DType dtype, int[] shape) => DTypeInfo.ByteCount(dtype, Tensor.ShapeElements(shape));

    public static void Write(Stream stream, Tensor tensor, string name) => Write(stream, tensor, name, ChunkBytes);

    /// <summary>Same, with an explicit chunk size (tests use tiny chunks to exercise the piecewise path).</summary>
    internal static void Write(Stream stream, Tensor tensor, string name, int chunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);
        if (!tensor.IsContiguous)
            throw new ArgumentException($"tensor '{name}' is not contiguous; write a contiguous copy instead", nameof(tensor));
        long bytes = StoredBytes(tensor.DType, tensor.Shape);
        for (long done = 0; done < bytes;)
        {
            int n = (int)Math.Min(chunkBytes, bytes - done);
            stream.Write(new ReadOnlySpan<byte>(tensor.Data + done, n));
            done += n;
        }
    }

    public static void WriteZeros(Stream stream, long count)
    {
        Span<byte> zeros = stackalloc byte[256];
        zeros.Clear();
        while (count > 0)
        {
            int n = (int)Math.Min(count, zeros.Length);
            stream.Write(zeros[..n]);
            count -= n;
        }
    }
}
