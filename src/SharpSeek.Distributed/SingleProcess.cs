namespace SharpSeek.Distributed;

/// <summary>The world of one process: rank 0 of 1, and every collective leaves its buffers as they are.</summary>
public sealed class SingleProcess : ICommunicator
{
    public static SingleProcess Instance { get; } = new();

    public int Rank => 0;
    public int Size => 1;
    public string Description => "single process";

    public void Barrier() { }
    public void AllReduceSum(Span<float> values) { }
    public void AllReduceSum(Span<double> values) { }
    public void AllReduceSum(Span<long> values) { }
    public void AllReduceMax(Span<double> values) { }
    public unsafe PendingReduction StartAllReduceSum(float* values, long count) => PendingReduction.Completed;
    public void Broadcast(Span<byte> values, int root) => CheckRoot(root);

    public void AllGatherV(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts) => Gather(mine, all, counts);
    public void AllGatherV(ReadOnlySpan<int> mine, Span<int> all, ReadOnlySpan<int> counts) => Gather(mine, all, counts);

    private static void Gather<T>(ReadOnlySpan<T> mine, Span<T> all, ReadOnlySpan<int> counts)
    {
        if (counts.Length != 1 || counts[0] != mine.Length || all.Length < mine.Length) throw new ArgumentException("all-gather: counts do not match one rank's contribution");
        mine.CopyTo(all);
    }

    public void AllToAllV(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, Span<float> receive, ReadOnlySpan<int> receiveCounts) => Copy(send, sendCounts, receive, receiveCounts);
    public void AllToAllV(ReadOnlySpan<int> send, ReadOnlySpan<int> sendCounts, Span<int> receive, ReadOnlySpan<int> receiveCounts) => Copy(send, sendCounts, receive, receiveCounts);

    private static void Copy<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts)
    {
        if (sendCounts.Length != 1 || receiveCounts.Length != 1 || sendCounts[0] != receiveCounts[0]) throw new ArgumentException("all-to-all: one rank sends to itself exactly what it receives");
        send[..sendCounts[0]].CopyTo(receive);
    }

    private static void CheckRoot(int root)
    {
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), $"root {root} is not a rank of a one-process job");
    }

    public void Dispose() { }
}
