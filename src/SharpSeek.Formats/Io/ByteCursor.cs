using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace SharpSeek.Formats;

/// <summary>
/// Reads little-endian fields from a file's bytes, checking every read against the bytes that remain so a hostile
/// length or count turns into an <see cref="InvalidModelFileException"/> instead of an out-of-range read or a huge
/// allocation.
/// </summary>
internal sealed unsafe class ByteCursor
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte* _base;
    private readonly long _length;
    private readonly string _path;

    public long Position { get; private set; }
    public long Remaining => _length - Position;
    public string FilePath => _path;

    public ByteCursor(FileContents contents)
    {
        // The formats are little-endian and the bulk array reads below copy raw bytes into typed arrays.
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("model files can only be read on little-endian machines");
        _base = contents.Length == 0 ? null : contents.Pointer;
        _length = contents.Length;
        _path = contents.Path;
    }

    public InvalidModelFileException Error(string problem) => new(_path, problem);

    /// <summary>Ensures <paramref name="bytes"/> remain; <paramref name="what"/> names the field for the error.</summary>
    public void Need(ulong bytes, string what)
    {
        if (bytes > (ulong)Remaining)
            throw Error($"file ends at byte {_length} but {what} at byte {Position} needs {bytes} bytes (truncated or corrupt file)");
    }

    public ReadOnlySpan<byte> Take(int bytes, string what)
    {
        Need((ulong)bytes, what);
        var span = new ReadOnlySpan<byte>(_base + Position, bytes);
        Position += bytes;
        return span;
    }

    public byte ReadU8(string what) => Take(1, what)[0];
    public ushort ReadU16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));
    public uint ReadU32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
    public ulong ReadU64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

    /// <summary>A uint64-length-prefixed UTF-8 string.</summary>
    /// <param name="strict">identifiers (keys, tensor names) must be valid UTF-8; free text is decoded leniently like llama.cpp does.</param>
    /// <param name="element">index within an array, or -1; kept apart from <paramref name="what"/> so reading a
    /// 100K-entry vocabulary does not format a description per element that only an error would use.</param>
    public string ReadString(string what, bool strict, long element = -1)
    {
        string Described() => element >= 0 ? $"element {element} of {what}" : what;
        if (Remaining < 8) Need(8, $"length of {Described()}");
        ulong len = ReadU64("string length");
        if (len > (ulong)Remaining)
            throw Error($"{Described()} at byte {Position - 8} claims {len} bytes but only {Remaining} remain in the file");
        if (len > int.MaxValue)
            throw Error($"{Described()} at byte {Position - 8} claims {len} bytes, more than a string can hold");
        var bytes = Take((int)len, what);
        if (!strict) return Encoding.UTF8.GetString(bytes);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw Error($"{Described()} at byte {Position - (long)len} is not valid UTF-8 ({e.Message})");
        }
    }

    /// <summary>Bulk-reads <paramref name="count"/> unmanaged values (count already validated against the remaining bytes).</summary>
    public T[] ReadArray<T>(int count, string what) where T : unmanaged
    {
        var result = new T[count];
        var src = Take(checked(count * sizeof(T)), what);
        src.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }
}
