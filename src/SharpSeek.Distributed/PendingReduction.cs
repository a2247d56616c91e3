namespace SharpSeek.Distributed;

/// <summary>
/// A nonblocking collective in flight. <see cref="Test"/> lets the library make progress and says whether it is done
/// (MPI implementations progress collectives only inside MPI calls, so a caller that wants overlap calls it between
/// pieces of work); <see cref="Wait"/> blocks until it is.
/// </summary>
public abstract class PendingReduction
{
    /// <summary>An already complete request (what a one-process world returns).</summary>
    public static PendingReduction Completed { get; } = new DoneReduction();

    public abstract bool Test();
    public abstract void Wait();

    private sealed class DoneReduction : PendingReduction
    {
        public override bool Test() => true;
        public override void Wait() { }
    }
}
