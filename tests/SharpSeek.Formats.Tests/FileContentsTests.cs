using SharpSeek.Formats.Gguf;
using SharpSeek.Formats.Safetensors;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Tests;

public sealed class FileContentsTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(FileLoadMode.MemoryMapped)]
    [InlineData(FileLoadMode.ReadIntoMemory)]
    public unsafe void Both_modes_expose_the_exact_file_bytes(FileLoadMode mode)
    {
        var bytes = new byte[10_000];
        new Random(3).NextBytes(bytes);
        string path = _dir.File("blob.bin");
        File.WriteAllBytes(path, bytes);
        using var contents = FileContents.Open(path, mode);
        Assert.Equal(bytes.Length, contents.Length);
        Assert.Equal(path, contents.Path);
        Assert.Equal(bytes, new ReadOnlySpan<byte>(contents.Pointer, bytes.Length).ToArray());
        Assert.Equal(bytes.AsSpan(9_990, 10).ToArray(), contents.Slice(9_990, 10).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => contents.Slice(9_995, 10).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => contents.Slice(-1, 1).ToArray());
        Assert.IsType(mode == FileLoadMode.MemoryMapped ? typeof(MappedFile) : typeof(LoadedFile), contents);
    }

    [Theory]
    [InlineData(FileLoadMode.MemoryMapped)]
    [InlineData(FileLoadMode.ReadIntoMemory)]
    public void Empty_files_open_with_length_zero(FileLoadMode mode)
    {
        string path = _dir.File("empty.bin");
        File.WriteAllBytes(path, []);
        using var contents = FileContents.Open(path, mode);
        Assert.Equal(0, contents.Length);
        Assert.True(contents.Slice(0, 0).IsEmpty);
    }

    [Fact]
    public unsafe void Disposed_contents_refuse_pointer_access()
    {
        string path = _dir.File("x.bin");
        File.WriteAllBytes(path, [1, 2, 3]);
        var mapped = FileContents.Open(path);
        mapped.Dispose();
        Assert.Throws<ObjectDisposedException>(() => (long)mapped.Pointer);
        var loaded = FileContents.Open(path, FileLoadMode.ReadIntoMemory);
        loaded.Dispose();
        Assert.Throws<ObjectDisposedException>(() => (long)loaded.Pointer);
    }

    [Fact]
    public void Missing_file_is_a_plain_file_not_found()
        => Assert.Throws<FileNotFoundException>(() => GgufFile.Open(_dir.File("absent.gguf")));

    [Fact]
    public void Mapped_views_keep_working_after_the_file_is_replaced_on_disk()
    {
        using var a = Tensor.FromArray([1f, 2f], 2);
        using var b = Tensor.FromArray([9f, 9f], 2);
        string path = _dir.File("swap.safetensors");
        new SafetensorsWriter().AddTensor("t", a).Write(path);
        using var file = SafetensorsFile.Open(path);
        var view = file.GetTensor("t");
        // The writer renames a new file over the old path; the open mapping still sees the old inode.
        new SafetensorsWriter().AddTensor("t", b).Write(path);
        Assert.Equal(new float[] { 1, 2 }, view.AsSpan<float>().ToArray());
        using var reopened = SafetensorsFile.Open(path);
        Assert.Equal(new float[] { 9, 9 }, reopened.GetTensor("t").AsSpan<float>().ToArray());
    }
}
