namespace SharpSeek.Tensors.Tests;

public class TensorTests
{
    [Fact]
    public unsafe void AllocationIsAlignedAndZeroed()
    {
        using var t = Tensor.Allocate(DType.F32, 3, 5);
        Assert.Equal(0, (long)t.Data % NativeBuffer.Alignment);
        Assert.All(t.AsSpan<float>().ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(3, t.Rows);
        Assert.Equal(5, t.Cols);
    }

    [Fact]
    public void BlockFormatsNeedWholeBlocksPerRow()
    {
        using var ok = Tensor.Allocate(DType.Q4_K, 2, 512);
        Assert.Equal(2 * 2 * 144, ok.ByteLength);
        Assert.Equal(288, ok.RowBytes(1).Length);
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Allocate(DType.Q4_K, 2, 300));
        Assert.Contains("256", ex.Message);
        Assert.Throws<ArgumentException>(() => Tensor.Allocate(DType.Q8_0, 33));
    }

    [Fact]
    public void NarrowAndReshapeAreViewsOverTheSameMemory()
    {
        using var t = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 4, 6);
        var rows = t.Narrow(1, 2);
        Assert.Equal(new[] { 2, 6 }, rows.Shape);
        Assert.Equal(6f, rows.RowSpan<float>(0)[0]);
        var r = t.Reshape(2, 3, 4);
        Assert.Equal(12f, r.RowSpan<float>(3)[0]);
        r.RowSpan<float>(3)[0] = -1;
        Assert.Equal(-1f, t.RowSpan<float>(2)[0]);
        Assert.Throws<ArgumentException>(() => t.Reshape(5, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Narrow(3, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.RowSpan<float>(4));
    }

    [Fact]
    public unsafe void FromPointerRefusesAShortBuffer()
    {
        using var buf = new NativeBuffer(100);
        var ex = Assert.Throws<ArgumentException>(() => Tensor.FromPointer(DType.Q8_0, new[] { 2, 64 }, buf.Pointer, 100, buf));
        Assert.Contains("136", ex.Message);
    }

    [Fact]
    public void Fp8BlockScalesMustMatchTheWeightShape()
    {
        using var w = Tensor.Allocate(DType.F8E4M3, 300, 129);
        using var good = Tensor.Allocate(DType.F32, 3, 2);
        using var bad = Tensor.Allocate(DType.F32, 2, 2);
        Assert.Throws<ArgumentException>(() => w.WithBlockScales(bad));
        Assert.Same(good, w.WithBlockScales(good).BlockScales);
    }

    [Fact]
    public void ByteCountsFollowGgmlBlockSizes()
    {
        Assert.Equal(34, DTypeInfo.ByteCount(DType.Q8_0, 32));
        Assert.Equal(18, DTypeInfo.ByteCount(DType.Q4_0, 32));
        Assert.Equal(144, DTypeInfo.ByteCount(DType.Q4_K, 256));
        Assert.Equal(210, DTypeInfo.ByteCount(DType.Q6_K, 256));
        Assert.Equal(2, DTypeInfo.ByteCount(DType.BF16, 1));
    }
}
