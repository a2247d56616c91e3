using SharpSeek.Formats.Gguf;
using SharpSeek.Formats.Safetensors;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Tests;

/// <summary>A write that fails part-way must leave the old file (or no file) and no temporary behind.</summary>
public sealed class AtomicWriteTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static Tensor Fail() => throw new IOException("source went away");

    [Fact]
    public void Failed_gguf_write_keeps_the_previous_file_and_leaves_no_temporary()
    {
        using var t = Tensor.FromArray([1f, 2f, 3f], 3);
        string path = _dir.File("model.gguf");
        new GgufWriter().AddMetadata("v", 1).AddTensor("t", t).Write(path);
        byte[] before = File.ReadAllBytes(path);

        var writer = new GgufWriter().AddMetadata("v", 2).AddTensor("t", t).AddTensor("late", DType.F32, [3], Fail);
        Assert.Throws<IOException>(() => writer.Write(path));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir.Path));
        using var file = GgufFile.Open(path);
        Assert.Equal(1, file.Metadata.GetInt32("v"));
    }

    [Fact]
    public void Successful_write_replaces_the_previous_file()
    {
        using var t = Tensor.FromArray([1f], 1);
        string path = _dir.File("model.safetensors");
        new SafetensorsWriter().AddTensor("old", t).Write(path);
        new SafetensorsWriter().AddTensor("new", t).Write(path);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(new[] { "new" }, file.TensorNames);
        Assert.Single(Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void Failed_sharded_write_leaves_no_index_and_no_temporaries()
    {
        using var t = TestTensors.Random(DType.BF16, 1, 64);
        var writer = new SafetensorsWriter().AddTensor("a", t).AddTensor("b", DType.BF16, [64], Fail);
        Assert.Throws<IOException>(() => writer.WriteSharded(_dir.Path, maxShardBytes: 128));
        var left = Directory.GetFiles(_dir.Path).Select(Path.GetFileName).ToArray();
        // The first shard completed before the failure; the second and the index never appear.
        Assert.Equal(new[] { "model-00001-of-00002.safetensors" }, left);
    }
}
