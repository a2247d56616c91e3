using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Tensors.Tests;

public class SelectionTests
{
    [Fact]
    public void ArgmaxPicksFirstOfTiesAndSkipsNaN()
    {
        Assert.Equal(1, Selection.Argmax(new[] { 1f, 5f, 5f, -2f }));
        Assert.Equal(2, Selection.Argmax(new[] { float.NaN, -1f, 3f, float.NaN }));
        Assert.Equal(0, Selection.Argmax(new[] { float.NegativeInfinity, float.NegativeInfinity }));
        Assert.Throws<ArgumentException>(() => Selection.Argmax(ReadOnlySpan<float>.Empty));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(256, 8)]
    [InlineData(6 * 512 + 7, 40)]
    [InlineData(64, 64)]
    public void TopKEqualsAFullStableSort(int n, int k)
    {
        var rng = new Random(n + k);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = rng.Next(0, n / 2 + 1); // many ties
        var idx = new int[k];
        Selection.TopK(x, idx);
        var want = Enumerable.Range(0, n).OrderByDescending(i => x[i]).ThenBy(i => i).Take(k).ToArray();
        Assert.Equal(want, idx);
    }

    [Fact]
    public void TopKRejectsKLargerThanInput() =>
        Assert.Throws<ArgumentException>(() => Selection.TopK(new float[3], new int[4]));
}
