using System.Buffers.Binary;
using System.Text;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Tests;

/// <summary>A fresh directory per test class instance, deleted afterwards.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sharpseek-formats-" + Guid.NewGuid().ToString("N"));

    public TempDir() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

internal static class TestTensors
{
    /// <summary>A tensor of <paramref name="dtype"/> filled with seeded random bytes (any bit pattern is fine for container tests).</summary>
    public static Tensor Random(DType dtype, int seed, params int[] shape)
    {
        var t = Tensor.Allocate(dtype, shape);
        new Random(seed).NextBytes(t.AsSpan<byte>());
        return t;
    }

    public static byte[] Bytes(Tensor t) => t.AsSpan<byte>().ToArray();
}

/// <summary>Hand-assembles GGUF bytes field by field, so tests can state exact layouts and build files our writer never would.</summary>
internal sealed class RawGguf
{
    private readonly MemoryStream _ms = new();

    public long Length => _ms.Length;

    public RawGguf Bytes(params byte[] b) { _ms.Write(b); return this; }
    public RawGguf Ascii(string s) => Bytes(Encoding.ASCII.GetBytes(s));
    public RawGguf U8(byte v) => Bytes(v);
    public RawGguf U32(uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); _ms.Write(b); return this; }
    public RawGguf U64(ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); _ms.Write(b); return this; }
    public RawGguf Str(string s) { var b = Encoding.UTF8.GetBytes(s); U64((ulong)b.Length); return Bytes(b); }

    /// <summary>Magic, version, tensor count, metadata count.</summary>
    public RawGguf Header(ulong tensors, ulong kvs, uint version = 3) => Ascii("GGUF").U32(version).U64(tensors).U64(kvs);

    /// <summary>A tensor info with dims given fastest-first as GGUF stores them.</summary>
    public RawGguf TensorInfo(string name, uint type, ulong offset, params ulong[] dims)
    {
        Str(name).U32((uint)dims.Length);
        foreach (var d in dims) U64(d);
        return U32(type).U64(offset);
    }

    public RawGguf PadTo(int alignment)
    {
        while (_ms.Length % alignment != 0) _ms.WriteByte(0);
        return this;
    }

    public RawGguf Zeros(int n) => Bytes(new byte[n]);

    public byte[] ToArray() => _ms.ToArray();

    public string SaveTo(TempDir dir, string name = "raw.gguf")
    {
        string p = dir.File(name);
        System.IO.File.WriteAllBytes(p, ToArray());
        return p;
    }
}
