using System.Runtime.InteropServices;

namespace SharpSeek.Tensors;

/// <summary>
/// A 64-byte-aligned block of unmanaged memory. Big weights and activations live here, never on the managed heap,
/// so the GC neither scans nor moves them and SIMD loads never split cache lines.
/// </summary>
public sealed unsafe class NativeBuffer : IDisposable
{
    public const int Alignment = 64;
    private void* _ptr;

    public long Length { get; }

    public NativeBuffer(long bytes, bool zero = true)
    {
        if (bytes < 0) throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "size must be non-negative");
        Length = bytes;
        _ptr = NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), Alignment); // throws OutOfMemoryException when it cannot
        if (zero) NativeMemory.Clear(_ptr, (nuint)bytes);
        if (bytes > 0) GC.AddMemoryPressure(bytes);
    }

    public byte* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_ptr == null, this);
            return (byte*)_ptr;
        }
    }

    public Span<T> AsSpan<T>() where T : unmanaged
    {
        long count = Length / sizeof(T);
        if (count > int.MaxValue) throw new InvalidOperationException($"buffer of {Length} bytes is too large for one span");
        return new Span<T>(Pointer, (int)count);
    }

    public void Dispose()
    {
        if (_ptr == null) return;
        NativeMemory.AlignedFree(_ptr);
        _ptr = null;
        if (Length > 0) GC.RemoveMemoryPressure(Length);
        GC.SuppressFinalize(this);
    }

    ~NativeBuffer() => Dispose();
}
