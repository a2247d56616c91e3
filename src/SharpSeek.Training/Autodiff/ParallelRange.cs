using SharpSeek.Tensors.Threading;

namespace SharpSeek.Training.Autodiff;

/// <summary>
/// Runs a lambda over [0, count) on a <see cref="ComputePool"/>. The training ops are many small loops whose bodies
/// need only a few pointers, so a delegate per loop (a few hundred small allocations per step) keeps every kernel
/// readable in place instead of one hand-written struct per loop. Loops started inside a body run serially.
/// </summary>
internal static class ParallelRange
{
    /// <summary>Calls <paramref name="body"/>(start, end, worker) on chunks of at least <paramref name="grain"/> iterations.</summary>
    public static void For(ComputePool pool, int count, int grain, Action<int, int, int> body)
    {
        var b = new DelegateBody(body);
        pool.For(count, grain, ref b);
    }

    /// <summary>Same as <see cref="For"/> without the worker index.</summary>
    public static void For(ComputePool pool, int count, int grain, Action<int, int> body)
    {
        var b = new DelegateBody((s, e, _) => body(s, e));
        pool.For(count, grain, ref b);
    }

    private readonly struct DelegateBody(Action<int, int, int> body) : IRangeBody
    {
        public void Execute(int start, int end, int worker) => body(start, end, worker);
    }
}
