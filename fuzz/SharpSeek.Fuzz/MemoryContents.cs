using System.Runtime.InteropServices;
using SharpSeek.Formats;

namespace SharpSeek.Fuzz;

/// <summary>
/// A fuzz input presented to the model-file readers as if it were a file. The readers take <see cref="FileContents"/>,
/// so a native copy (exactly the input's length, no slack) lets them run without touching the disk, and an
/// out-of-range read would run off the end of this allocation rather than into the fuzzer's own buffer.
/// </summary>
internal sealed unsafe class MemoryContents : FileContents
{
    private byte* _pointer;

    private MemoryContents(string path, byte* pointer, long length) : base(path, length) => _pointer = pointer;

    public static MemoryContents Copy(ReadOnlySpan<byte> bytes, string path)
    {
        byte* p = bytes.IsEmpty ? null : (byte*)NativeMemory.Alloc((nuint)bytes.Length);
        bytes.CopyTo(new Span<byte>(p, bytes.Length));
        return new MemoryContents(path, p, bytes.Length);
    }

    public override byte* Pointer => _pointer;

    protected override void Dispose(bool disposing)
    {
        // Idempotent: the parsed file and the harness may both dispose it.
        if (_pointer != null) NativeMemory.Free(_pointer);
        _pointer = null;
    }

    ~MemoryContents() => Dispose(false);
}
