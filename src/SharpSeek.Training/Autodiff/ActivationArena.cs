using System.Runtime.InteropServices;

namespace SharpSeek.Training.Autodiff;

/// <summary>
/// The memory a tape's activations and gradients live in. Every training step asks for the same sizes in the same
/// order, so buffers are recycled by exact byte size: after the first step a step allocates nothing. Buffers are native
/// and 64-byte aligned (the GC never scans or moves them, SIMD loads never split a cache line).
/// </summary>
internal sealed unsafe class ActivationArena : IDisposable
{
    private const int Alignment = 64;
    private readonly Dictionary<long, Stack<nint>> _free = [];
    private readonly Dictionary<nint, long> _live = [];
    private long _liveBytes, _peakBytes, _ownedBytes;

    /// <summary>Bytes handed out right now.</summary>
    public long LiveBytes => _liveBytes;
    /// <summary>Most bytes handed out at once since creation.</summary>
    public long PeakBytes => _peakBytes;
    /// <summary>Bytes allocated from the system (live + recyclable).</summary>
    public long OwnedBytes => _ownedBytes;

    public void* Rent(long bytes, bool zero)
    {
        bytes = Math.Max(bytes, 1);
        void* p;
        if (_free.TryGetValue(bytes, out var stack) && stack.Count > 0) p = (void*)stack.Pop();
        else
        {
            p = NativeMemory.AlignedAlloc((nuint)bytes, Alignment);
            if (p == null) throw new OutOfMemoryException($"could not allocate {bytes} bytes for activations");
            _ownedBytes += bytes;
        }
        if (zero) NativeMemory.Clear(p, (nuint)bytes);
        _live.Add((nint)p, bytes);
        _liveBytes += bytes;
        _peakBytes = Math.Max(_peakBytes, _liveBytes);
        return p;
    }

    /// <summary>Returns one buffer for reuse (its contents become garbage).</summary>
    public void Return(void* p)
    {
        if (!_live.Remove((nint)p, out long bytes)) throw new InvalidOperationException("buffer was not rented from this arena");
        Push(p, bytes);
    }

    /// <summary>Returns every live buffer (the end of a step).</summary>
    public void ReturnAll()
    {
        foreach (var (p, bytes) in _live) Push((void*)p, bytes);
        _live.Clear();
    }

    /// <summary>Frees the recyclable buffers back to the system (after an evaluation with other shapes, say).</summary>
    public void Trim()
    {
        foreach (var stack in _free.Values)
            while (stack.Count > 0)
                NativeMemory.AlignedFree((void*)stack.Pop());
        _free.Clear();
        _ownedBytes = _liveBytes;
    }

    private void Push(void* p, long bytes)
    {
        _liveBytes -= bytes;
        if (!_free.TryGetValue(bytes, out var stack)) _free[bytes] = stack = new Stack<nint>();
        stack.Push((nint)p);
    }

    public void Dispose()
    {
        ReturnAll();
        Trim();
    }
}
