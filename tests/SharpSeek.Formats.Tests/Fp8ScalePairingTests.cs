using SharpSeek.Formats.Safetensors;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Tests;

public sealed class Fp8ScalePairingTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Fp8_weight_comes_back_with_its_scales_attached()
    {
        // [200, 300] -> scales [ceil(200/128), ceil(300/128)] = [2, 3]
        using var w = TestTensors.Random(DType.F8E4M3, 1, 200, 300);
        using var s = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        using var norm = TestTensors.Random(DType.BF16, 2, 300);
        string path = _dir.File("fp8.safetensors");
        new SafetensorsWriter().AddFp8Weight("layers.0.attn.wq.weight", w.WithBlockScales(s)).AddTensor("layers.0.attn_norm.weight", norm).Write(path);

        using var file = SafetensorsFile.Open(path);
        Assert.Contains("layers.0.attn.wq.weight_scale_inv", file.TensorNames);
        var weight = Fp8ScalePairing.GetWeight(file, "layers.0.attn.wq.weight");
        Assert.Equal(DType.F8E4M3, weight.DType);
        Assert.NotNull(weight.BlockScales);
        Assert.Equal(new[] { 2, 3 }, weight.BlockScales!.Shape);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, weight.BlockScales.AsSpan<float>().ToArray());
        Assert.Equal(TestTensors.Bytes(w), TestTensors.Bytes(weight));

        var plain = Fp8ScalePairing.GetWeight(file, "layers.0.attn_norm.weight");
        Assert.Null(plain.BlockScales);
        Assert.True(Fp8ScalePairing.IsScaleName("layers.0.attn.wq.weight_scale_inv"));
        Assert.False(Fp8ScalePairing.IsScaleName("layers.0.attn.wq.weight"));
    }

    [Fact]
    public void Scales_are_found_in_another_shard()
    {
        using var w = TestTensors.Random(DType.F8E4M3, 1, 128, 256);
        using var s = Tensor.FromArray([0.5f, 0.25f], 1, 2);
        var writer = new SafetensorsWriter().AddFp8Weight("x.weight", w.WithBlockScales(s));
        writer.WriteSharded(_dir.Path, maxShardBytes: 128 * 256); // the weight fills shard 1, the scale lands in shard 2
        using var model = SafetensorsDirectory.Open(_dir.Path);
        Assert.NotEqual(model.FileOf("x.weight"), model.FileOf("x.weight_scale_inv"));
        var weight = Fp8ScalePairing.GetWeight(model, "x.weight");
        Assert.Equal(new[] { 0.5f, 0.25f }, weight.BlockScales!.AsSpan<float>().ToArray());
    }

    [Fact]
    public void Fp8_weight_without_scales_is_an_error_naming_the_missing_tensor()
    {
        using var w = TestTensors.Random(DType.F8E4M3, 1, 4, 4);
        string path = _dir.File("noscale.safetensors");
        new SafetensorsWriter().AddTensor("x.weight", w).Write(path);
        using var file = SafetensorsFile.Open(path);
        var e = Assert.Throws<InvalidModelFileException>(() => Fp8ScalePairing.GetWeight(file, "x.weight"));
        Assert.Contains("FP8 weight 'x.weight' has no 'x.weight_scale_inv'", e.Message);
        Assert.Equal(path, e.FilePath);
    }

    [Theory]
    [InlineData(DType.F32, new[] { 2, 2 }, "needs block scales [1, 1]")]
    [InlineData(DType.F32, new[] { 1 }, "needs block scales [1, 1]")]
    [InlineData(DType.BF16, new[] { 1, 1 }, "must be F32")]
    public void Scales_of_the_wrong_shape_or_dtype_are_an_error_naming_the_scale_tensor(DType scaleType, int[] scaleShape, string fragment)
    {
        using var w = TestTensors.Random(DType.F8E4M3, 1, 4, 4);
        using var s = TestTensors.Random(scaleType, 2, scaleShape);
        string path = _dir.File("badscale.safetensors");
        new SafetensorsWriter().AddTensor("x.weight", w).AddTensor("x.weight_scale_inv", s).Write(path);
        using var file = SafetensorsFile.Open(path);
        var e = Assert.Throws<InvalidModelFileException>(() => Fp8ScalePairing.GetWeight(file, "x.weight"));
        Assert.Contains("'x.weight_scale_inv' does not fit FP8 weight 'x.weight'", e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void AddFp8Weight_requires_attached_scales()
    {
        using var w = TestTensors.Random(DType.F8E4M3, 1, 4, 4);
        Assert.Throws<ArgumentException>(() => new SafetensorsWriter().AddFp8Weight("x.weight", w));
    }
}
