namespace SharpSeek.Training.Ops;

/// <summary>
/// Per-thread scratch arrays for kernel bodies (a row of temporaries, a chunk's sigmoid), so a hot loop allocates
/// nothing after warm-up. A body may hold several slots at once; it must not keep a span after it returns.
/// </summary>
internal static class ThreadScratch<T>
{
    public const int Slots = 4;
    [ThreadStatic] private static T[]?[]? t_slots;

    public static Span<T> Get(int slot, int length)
    {
        var slots = t_slots ??= new T[]?[Slots];
        ref var buffer = ref slots[slot];
        if (buffer is null || buffer.Length < length) buffer = new T[Math.Max(length, 64)];
        return buffer.AsSpan(0, length);
    }
}
