namespace SharpSeek.Distributed.Mpi;

/// <summary>An MPI call failed, or MPI is not usable here; the message says which call and why.</summary>
public sealed class MpiException : Exception
{
    public MpiException() { }
    public MpiException(string message) : base(message) { }
    public MpiException(string message, Exception inner) : base(message, inner) { }
}
