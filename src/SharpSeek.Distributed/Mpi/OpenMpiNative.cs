using System.Reflection;
using System.Runtime.InteropServices;

namespace SharpSeek.Distributed.Mpi;

/// <summary>
/// The part of the MPI C API that SharpSeek calls, bound to Open MPI's <c>libmpi</c>.
/// </summary>
/// <remarks>
/// Why by hand: the MPI.NET package (1.4.0, the one NuGet serves) binds Microsoft MPI's ABI, where handles are integer
/// constants; on Linux it looks for <c>msmpi.dll</c> and cannot run. Open MPI's handles are pointers to global objects
/// its library exports (<c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>, <c>MPI_FLOAT</c> is
/// <c>&amp;ompi_mpi_float</c>), so this layer resolves those symbols' addresses once and passes them as handles. The
/// ABI facts used (handle symbols, <c>MPI_IN_PLACE</c> = 1, <c>MPI_THREAD_FUNNELED</c> = 1, null for ignored statuses)
/// are Open MPI's <c>mpi.h</c>; MPICH would need its own table.
/// </remarks>
internal static unsafe partial class OpenMpiNative
{
    private const string Library = "mpi";
    public const int Success = 0;
    public const int ThreadFunneled = 1;
    public static readonly nint InPlace = 1;

    private static nint s_handle;

    static OpenMpiNative() => NativeLibrary.SetDllImportResolver(typeof(OpenMpiNative).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Library) return 0;
        return Load();
    }

    /// <summary>Loads libmpi (Open MPI's soname first); 0 when it is not installed.</summary>
    public static nint Load()
    {
        if (s_handle != 0) return s_handle;
        foreach (string candidate in (string[])["libmpi.so.40", "libmpi.so"])
            if (NativeLibrary.TryLoad(candidate, out s_handle)) return s_handle;
        return 0;
    }

    /// <summary>The address of one of libmpi's predefined objects: that is the handle.</summary>
    public static nint Symbol(string name) =>
        NativeLibrary.TryGetExport(Load(), name, out nint address) ? address
            : throw new MpiException($"libmpi has no symbol '{name}': this build of SharpSeek speaks Open MPI's ABI (install openmpi-bin and libopenmpi-dev)");

    [LibraryImport(Library, EntryPoint = "MPI_Init_thread")] public static partial int InitThread(int* argc, nint argv, int required, int* provided);
    [LibraryImport(Library, EntryPoint = "MPI_Initialized")] public static partial int Initialized(int* flag);
    [LibraryImport(Library, EntryPoint = "MPI_Finalized")] public static partial int Finalized(int* flag);
    [LibraryImport(Library, EntryPoint = "MPI_Finalize")] public static partial int FinalizeMpi();
    [LibraryImport(Library, EntryPoint = "MPI_Abort")] public static partial int Abort(nint comm, int code);
    [LibraryImport(Library, EntryPoint = "MPI_Comm_rank")] public static partial int CommRank(nint comm, int* rank);
    [LibraryImport(Library, EntryPoint = "MPI_Comm_size")] public static partial int CommSize(nint comm, int* size);
    [LibraryImport(Library, EntryPoint = "MPI_Comm_set_errhandler")] public static partial int CommSetErrhandler(nint comm, nint handler);
    [LibraryImport(Library, EntryPoint = "MPI_Get_library_version")] public static partial int GetLibraryVersion(byte* version, int* length);
    [LibraryImport(Library, EntryPoint = "MPI_Error_string")] public static partial int ErrorString(int code, byte* text, int* length);
    [LibraryImport(Library, EntryPoint = "MPI_Barrier")] public static partial int Barrier(nint comm);
    [LibraryImport(Library, EntryPoint = "MPI_Allreduce")] public static partial int AllReduce(nint send, void* receive, int count, nint type, nint op, nint comm);
    [LibraryImport(Library, EntryPoint = "MPI_Iallreduce")] public static partial int IAllReduce(nint send, void* receive, int count, nint type, nint op, nint comm, nint* request);
    [LibraryImport(Library, EntryPoint = "MPI_Bcast")] public static partial int Broadcast(void* buffer, int count, nint type, int root, nint comm);
    [LibraryImport(Library, EntryPoint = "MPI_Allgatherv")]
    public static partial int AllGatherV(void* send, int sendCount, nint sendType, void* receive, int* receiveCounts, int* displacements, nint receiveType, nint comm);
    [LibraryImport(Library, EntryPoint = "MPI_Alltoallv")]
    public static partial int AllToAllV(void* send, int* sendCounts, int* sendDisplacements, nint sendType,
        void* receive, int* receiveCounts, int* receiveDisplacements, nint receiveType, nint comm);
    [LibraryImport(Library, EntryPoint = "MPI_Test")] public static partial int Test(nint* request, int* flag, nint status);
    [LibraryImport(Library, EntryPoint = "MPI_Wait")] public static partial int Wait(nint* request, nint status);
}
