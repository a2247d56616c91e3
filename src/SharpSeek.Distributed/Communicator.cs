using SharpSeek.Distributed.Mpi;

namespace SharpSeek.Distributed;

/// <summary>Picks the world this process lives in.</summary>
public static class Communicator
{
    /// <summary>
    /// MPI's world when <c>mpirun</c> started this process, the one-process world otherwise: without <c>mpirun</c> (or
    /// without Open MPI installed) everything runs exactly as a single process.
    /// </summary>
    public static ICommunicator FromEnvironment() => MpiCommunicator.LaunchedByMpirun ? MpiCommunicator.Start() : SingleProcess.Instance;
}
