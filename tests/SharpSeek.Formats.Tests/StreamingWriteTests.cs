using SharpSeek.Formats.Gguf;
using SharpSeek.Formats.Safetensors;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Tests;

public sealed class StreamingWriteTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Tensor_bytes_are_written_exactly_whatever_the_chunk_size(int chunk)
    {
        using var t = TestTensors.Random(DType.Q6_K, 9, 3, 256);
        using var ms = new MemoryStream();
        TensorByteWriter.Write(ms, t, "t", chunk);
        Assert.Equal(TestTensors.Bytes(t), ms.ToArray());
    }

    [Fact]
    public void A_tensor_bigger_than_one_chunk_streams_from_native_memory_without_managed_copies()
    {
        // 80 MiB: more than one 64 MiB write chunk. The managed heap must not see anything of that order.
        const int elements = 20 << 20;
        using var big = Tensor.Allocate(DType.F32, 4, elements / 4);
        var span = big.AsSpan<float>();
        for (int i = 0; i < span.Length; i += 4099) span[i] = i;
        span[^1] = -1;
        string gguf = _dir.File("big.gguf"), st = _dir.File("big.safetensors");

        long before = GC.GetAllocatedBytesForCurrentThread();
        new GgufWriter().AddTensor("big", big).Write(gguf);
        new SafetensorsWriter().AddTensor("big", big).Write(st);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 8 << 20, $"writing 2 x 80 MiB allocated {allocated} managed bytes");

        using var g = GgufFile.Open(gguf);
        Assert.True(g.GetTensor("big").AsSpan<byte>().SequenceEqual(big.AsSpan<byte>()));
        using var s = SafetensorsFile.Open(st);
        Assert.True(s.GetTensor("big").AsSpan<byte>().SequenceEqual(big.AsSpan<byte>()));
    }
}
