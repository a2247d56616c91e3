using System.Runtime.InteropServices;

namespace SharpSeek.Training.Autodiff;

/// <summary>
/// The memory a tape's activations and gradients live in. A pretraining step asks for the same sizes in the same
/// order, so buffers are recycled by size: after the first step a step allocates nothing. Buffers are native and
/// 64-byte aligned (the GC never scans or moves them, SIMD loads never split a cache line).
/// </summary>
/// <remarks>
/// Fine-tuning and RL batches change shape every step (padded to their longest example), so recycling by exact size
/// would keep every shape ever seen: GRPO grew by ~200 MB a step until the process was killed. Two things bound it:
/// sizes are rounded up to a size class (8 per power of two, at most 12.5 % slack), so nearby shapes share buffers,
/// and at the end of a step the recyclable buffers are freed whenever the arena owns more than twice what that step
/// used at its peak.
/// </remarks>
internal sealed unsafe class ActivationArena : IDisposable
{
    private const int Alignment = 64;
    private readonly Dictionary<long, Stack<nint>> _free = [];
    private readonly Dictionary<nint, long> _live = [];
    private long _liveBytes, _peakBytes, _ownedBytes, _stepPeakBytes;

    /// <summary>Bytes handed out right now.</summary>
    /// <summary>Most bytes handed out at once since creation.</summary>
    public long PeakBytes => _peakBytes;
    /// <summary>Bytes allocated from the system (live + recyclable).</summary>
    public long OwnedBytes => _ownedBytes;

    public void* Rent(long bytes, bool zero)
    {
        long requested = Math.Max(bytes, 1);
        bytes = SizeClass(requested);
        void* p;
        if (_free.TryGetValue(bytes, out var stack) && stack.Count > 0) p = (void*)stack.Pop();
        else
        {
            p = NativeMemory.AlignedAlloc((nuint)bytes, Alignment); // throws OutOfMemoryException when it cannot
            _ownedBytes += bytes;
        }
        if (zero) NativeMemory.Clear(p, (nuint)requested);
        _live.Add((nint)p, bytes);
        _liveBytes += bytes;
        _peakBytes = Math.Max(_peakBytes, _liveBytes);
        _stepPeakBytes = Math.Max(_stepPeakBytes, _liveBytes);
        return p;
    }

    /// <summary>
    /// The allocation size for a request: multiples of 64 bytes up to 4 KiB, then 8 classes per power of two
    /// (2ᵏ·(1 + j/8)), so a buffer is at most 12.5 % larger than asked for.
    /// </summary>
    internal static long SizeClass(long bytes)
    {
        if (bytes <= 4096) return (bytes + 63) & ~63L;
        int k = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1));
        long step = 1L << (k - 3);
        return (bytes + step - 1) / step * step;
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
        // Shapes that changed (variable-length batches) leave buffers no later step may ask for: keep at most twice
        // what this step needed, so memory stays bounded by the largest recent step, not by the history of shapes.
        if (_ownedBytes > 2 * _stepPeakBytes) Trim();
        _stepPeakBytes = 0;
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
