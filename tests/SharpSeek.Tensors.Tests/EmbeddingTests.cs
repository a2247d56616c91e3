using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Tests.Reference;

namespace SharpSeek.Tensors.Tests;

public class EmbeddingTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F8E4M3)]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_0)]
    [InlineData(DType.Q4_K)]
    [InlineData(DType.Q6_K)]
    public void Gather_ReturnsDecodedRows(DType type)
    {
        const int vocab = 300, d = 512;
        using var table = MatMulTests.MakeWeight(type, vocab, d, 9 + (int)type);
        int[] ids = [0, 299, 128, 127, 5, 5];
        var output = new float[ids.Length * d];
        Embedding.Gather(table, ids, output);
        var w = Float64Reference.DecodeMatrix(table);
        for (int i = 0; i < ids.Length; i++)
            for (int c = 0; c < d; c++)
            {
                double expect = w[(long)ids[i] * d + c];
                Assert.True(Math.Abs(output[i * d + c] - expect) <= 1e-6 * Math.Abs(expect) + 1e-30, $"{type} id {ids[i]} col {c}");
            }
    }

    [Fact]
    public void Gather_RejectsBadIdsAndSizes_WithoutWriting()
    {
        using var table = MatMulTests.MakeWeight(DType.BF16, 10, 32, 1);
        var output = Enumerable.Repeat(7f, 3 * 32).ToArray();
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Gather(table, [1, 10, 2], output));
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Gather(table, [1, -1, 2], output));
        Assert.All(output, v => Assert.Equal(7f, v));
        Assert.Throws<ArgumentException>(() => Embedding.Gather(table, [1, 2], output));
        using var rank3 = Tensor.Allocate(DType.F32, 2, 3, 4);
        Assert.Throws<ArgumentException>(() => Embedding.Gather(rank3, [0], new float[4]));
        Embedding.Gather(table, ReadOnlySpan<int>.Empty, Span<float>.Empty);
    }
}
