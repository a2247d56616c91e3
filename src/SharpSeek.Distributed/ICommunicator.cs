namespace SharpSeek.Distributed;

/// <summary>
/// The collectives training needs between the processes of one job. Every process of the job calls the same
/// collectives in the same order with matching sizes (the MPI contract); a rank that does not is a bug and hangs or
/// fails the job. <see cref="SingleProcess"/> is the one-process world where every collective is the identity, so code
/// written against this interface runs unchanged without <c>mpirun</c>.
/// </summary>
/// <remarks>
/// Calls are made from one thread (the training loop's); the compute pool's workers never communicate. Buffers are
/// spans of unmanaged memory or arrays; nonblocking calls take native pointers because the memory must stay put until
/// the request completes.
/// </remarks>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's index, 0 ≤ Rank &lt; Size.</summary>
    int Rank { get; }
    /// <summary>How many processes the job has.</summary>
    int Size { get; }
    /// <summary>What runs the job, for logs ("single process", "Open MPI 4.1.4").</summary>
    string Description { get; }

    void Barrier();

    /// <summary>Element-wise sum over all ranks, in place: every rank ends with the same values.</summary>
    void AllReduceSum(Span<float> values);
    void AllReduceSum(Span<double> values);
    void AllReduceSum(Span<long> values);
    /// <summary>Element-wise maximum over all ranks, in place.</summary>
    void AllReduceMax(Span<double> values);

    /// <summary>Starts an in-place sum of <paramref name="count"/> floats at <paramref name="values"/>; the memory must stay valid until the request completes.</summary>
    unsafe PendingReduction StartAllReduceSum(float* values, long count);

    /// <summary>Root's bytes to every rank (in place; every rank passes a buffer of the same length).</summary>
    void Broadcast(Span<byte> values, int root);

    /// <summary>
    /// Rank r contributes <paramref name="mine"/> (counts[r] elements); every rank receives all contributions in rank
    /// order in <paramref name="all"/> (Σ counts elements).
    /// </summary>
    void AllGatherV(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts);

    /// <summary>The same gathering for integers (token ids, counts).</summary>
    void AllGatherV(ReadOnlySpan<int> mine, Span<int> all, ReadOnlySpan<int> counts);

    /// <summary>
    /// Personalised exchange: the first sendCounts[0] elements of <paramref name="send"/> go to rank 0, the next
    /// sendCounts[1] to rank 1, …; <paramref name="receive"/> gets receiveCounts[s] elements from each rank s, in rank order.
    /// </summary>
    void AllToAllV(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, Span<float> receive, ReadOnlySpan<int> receiveCounts);

    /// <summary>The same exchange for integers (counts, indices).</summary>
    void AllToAllV(ReadOnlySpan<int> send, ReadOnlySpan<int> sendCounts, Span<int> receive, ReadOnlySpan<int> receiveCounts);
}
