using System.Text;
using static SharpSeek.Distributed.Mpi.OpenMpiNative;

namespace SharpSeek.Distributed.Mpi;

/// <summary>
/// <c>MPI_COMM_WORLD</c> of a job started by <c>mpirun</c>, through Open MPI. Errors come back as return codes
/// (<c>MPI_ERRORS_RETURN</c>) and become <see cref="MpiException"/>s naming the call; a rank that dies is noticed by
/// <c>mpirun</c>, which ends the whole job (so no rank waits forever on a dead peer).
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private readonly nint _world, _float, _double, _int64, _int32, _byte, _sum, _max;
    private bool _disposed;

    private MpiCommunicator()
    {
        int flag;
        Check(Initialized(&flag), "MPI_Initialized");
        if (flag == 0)
        {
            int provided;
            // FUNNELED: only the thread that called init makes MPI calls; the compute pool's workers never do.
            Check(InitThread(null, 0, ThreadFunneled, &provided), "MPI_Init_thread");
        }
        _world = Symbol("ompi_mpi_comm_world");
        _float = Symbol("ompi_mpi_float");
        _double = Symbol("ompi_mpi_double");
        _int64 = Symbol("ompi_mpi_int64_t");
        _int32 = Symbol("ompi_mpi_int");
        _byte = Symbol("ompi_mpi_byte");
        _sum = Symbol("ompi_mpi_op_sum");
        _max = Symbol("ompi_mpi_op_max");
        Check(CommSetErrhandler(_world, Symbol("ompi_mpi_errors_return")), "MPI_Comm_set_errhandler");
        int rank, size;
        Check(CommRank(_world, &rank), "MPI_Comm_rank");
        Check(CommSize(_world, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        Description = LibraryVersion();
    }

    public int Rank { get; }
    public int Size { get; }
    public string Description { get; }

    /// <summary>True when this process was started by Open MPI's <c>mpirun</c> (or another PMIx launcher).</summary>
    public static bool LaunchedByMpirun =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is not null || Environment.GetEnvironmentVariable("PMIX_RANK") is not null;

    /// <summary>Initialises MPI; throws <see cref="MpiException"/> with the fix when libmpi is missing.</summary>
    public static MpiCommunicator Start()
    {
        if (Load() == 0)
            throw new MpiException("this process was started by mpirun but Open MPI's libmpi.so.40 could not be loaded (apt-get install openmpi-bin libopenmpi-dev)");
        return new MpiCommunicator();
    }

    public void Barrier() => Check(OpenMpiNative.Barrier(_world), "MPI_Barrier");

    public void AllReduceSum(Span<float> values) { fixed (float* p = values) Reduce(p, values.Length, sizeof(float), _float, _sum); }
    public void AllReduceSum(Span<double> values) { fixed (double* p = values) Reduce(p, values.Length, sizeof(double), _double, _sum); }
    public void AllReduceSum(Span<long> values) { fixed (long* p = values) Reduce(p, values.Length, sizeof(long), _int64, _sum); }
    public void AllReduceMax(Span<double> values) { fixed (double* p = values) Reduce(p, values.Length, sizeof(double), _double, _max); }

    private void Reduce(void* values, long count, int elementBytes, nint type, nint op)
    {
        // MPI counts are ints: larger buffers go in pieces.
        for (long done = 0; done < count;)
        {
            int n = (int)Math.Min(int.MaxValue / 2, count - done);
            Check(AllReduce(InPlace, (byte*)values + done * elementBytes, n, type, op, _world), "MPI_Allreduce");
            done += n;
        }
    }

    public PendingReduction StartAllReduceSum(float* values, long count)
    {
        if (count > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(count), $"{count} floats is more than one nonblocking reduction takes; split the bucket");
        nint request;
        Check(IAllReduce(InPlace, values, (int)count, _float, _sum, _world, &request), "MPI_Iallreduce");
        return new Pending(request);
    }

    public void Broadcast(Span<byte> values, int root)
    {
        if ((uint)root >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(root), $"root {root} is not a rank of a {Size}-process job");
        fixed (byte* p = values) Check(OpenMpiNative.Broadcast(p, values.Length, _byte, root, _world), "MPI_Bcast");
    }

    public void AllGatherV(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts) => Gather(mine, all, counts, _float);
    public void AllGatherV(ReadOnlySpan<int> mine, Span<int> all, ReadOnlySpan<int> counts) => Gather(mine, all, counts, _int32);

    private void Gather<T>(ReadOnlySpan<T> mine, Span<T> all, ReadOnlySpan<int> counts, nint type) where T : unmanaged
    {
        var displacements = Displacements(counts, all.Length, "all-gather");
        if (counts[Rank] != mine.Length) throw new ArgumentException($"all-gather: rank {Rank} contributes {mine.Length} values but counts say {counts[Rank]}");
        fixed (T* s = mine, r = all)
        fixed (int* c = counts, d = displacements)
            Check(OpenMpiNative.AllGatherV(s, mine.Length, type, r, c, d, type, _world), "MPI_Allgatherv");
    }

    public void AllToAllV(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, Span<float> receive, ReadOnlySpan<int> receiveCounts) =>
        Exchange(send, sendCounts, receive, receiveCounts, _float);

    public void AllToAllV(ReadOnlySpan<int> send, ReadOnlySpan<int> sendCounts, Span<int> receive, ReadOnlySpan<int> receiveCounts) =>
        Exchange(send, sendCounts, receive, receiveCounts, _int32);

    private void Exchange<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts, nint type) where T : unmanaged
    {
        var sd = Displacements(sendCounts, send.Length, "all-to-all send");
        var rd = Displacements(receiveCounts, receive.Length, "all-to-all receive");
        fixed (T* s = send, r = receive)
        fixed (int* sc = sendCounts, sdp = sd, rc = receiveCounts, rdp = rd)
            Check(OpenMpiNative.AllToAllV(s, sc, sdp, type, r, rc, rdp, type, _world), "MPI_Alltoallv");
    }

    /// <summary>Offsets of each rank's part, checked against the buffer (a wrong count would read or write past it).</summary>
    private int[] Displacements(ReadOnlySpan<int> counts, int bufferLength, string what)
    {
        if (counts.Length != Size) throw new ArgumentException($"{what}: {counts.Length} counts for {Size} ranks");
        var displacements = new int[Size];
        long total = 0;
        for (int r = 0; r < Size; r++)
        {
            if (counts[r] < 0) throw new ArgumentException($"{what}: negative count for rank {r}");
            displacements[r] = (int)total;
            total += counts[r];
        }
        if (total > bufferLength) throw new ArgumentException($"{what}: counts add up to {total}, the buffer holds {bufferLength}");
        return displacements;
    }

    /// <summary>Ends the whole job at once (every rank), for a failure this rank cannot recover from.</summary>
    public void Abort(int exitCode) => Check(OpenMpiNative.Abort(_world, exitCode), "MPI_Abort");

    private static string LibraryVersion()
    {
        var text = stackalloc byte[256 * 16]; // MPI_MAX_LIBRARY_VERSION_STRING is 256 in Open MPI; room to spare
        int length;
        if (GetLibraryVersion(text, &length) != Success) return "MPI";
        string version = Encoding.ASCII.GetString(text, length).Trim('\0', ' ', '\n');
        int comma = version.IndexOf(',', StringComparison.Ordinal);
        return comma > 0 ? version[..comma] : version;
    }

    internal static void Check(int code, string call)
    {
        if (code == Success) return;
        var text = stackalloc byte[512];
        int length = 0;
        string reason = ErrorString(code, text, &length) == Success ? Encoding.ASCII.GetString(text, length) : $"error {code}";
        throw new MpiException($"{call} failed: {reason}");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        int flag;
        if (Finalized(&flag) == Success && flag == 0) Check(FinalizeMpi(), "MPI_Finalize");
    }

    private sealed class Pending(nint request) : PendingReduction
    {
        private nint _request = request;
        private bool _done;

        public override bool Test()
        {
            if (_done) return true;
            int flag;
            nint r = _request;
            Check(OpenMpiNative.Test(&r, &flag, 0), "MPI_Test");
            _request = r;
            return _done = flag != 0;
        }

        public override void Wait()
        {
            if (_done) return;
            nint r = _request;
            Check(OpenMpiNative.Wait(&r, 0), "MPI_Wait");
            _request = r;
            _done = true;
        }
    }
}
