using System.Runtime.CompilerServices;

namespace SharpSeek.Tensors.Threading;

/// <summary>The work of one parallel loop: called with a half-open range of iterations and the worker's index.</summary>
public interface IRangeBody
{
    void Execute(int start, int end, int worker);
}

/// <summary>
/// A persistent pool of compute threads for per-token work. The calling thread takes part, workers spin briefly before
/// sleeping, and a dispatch allocates nothing: the loop body is a struct passed by reference and reached through a
/// function pointer, so a decode step can fork hundreds of times without garbage or thread-pool latency.
/// </summary>
/// <remarks>
/// One loop runs at a time per pool (callers from other threads wait their turn). A loop started from inside a body
/// runs serially on that thread, so kernels may call kernels.
/// </remarks>
public sealed unsafe class ComputePool : IDisposable
{
    private static readonly Lazy<ComputePool> s_shared = new(() => new ComputePool(DefaultThreadCount()));
    /// <summary>The process-wide pool (size from <c>SHARPSEEK_THREADS</c>, else the processor count).</summary>
    public static ComputePool Shared => s_shared.Value;

    [ThreadStatic] private static bool t_insideBody;

    private readonly Thread[] _workers;
    private readonly object _dispatchLock = new();
    private readonly object _sleepGate = new();
    private long _generation;
    private int _sleepers;
    private volatile bool _disposed;

    // The current loop.
    private delegate*<void*, int, int, int, void> _fn;
    private void* _state;
    private int _count, _chunk, _nextChunk, _chunkCount;
    private int _running;
    private Exception? _error;

    public int ThreadCount { get; }

    public ComputePool(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "a pool needs at least one thread");
        ThreadCount = threads;
        _workers = new Thread[threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            int index = i + 1;
            _workers[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"sharpseek-compute-{index}" };
            _workers[i].Start();
        }
    }

    public static int DefaultThreadCount()
    {
        string? env = Environment.GetEnvironmentVariable("SHARPSEEK_THREADS");
        return int.TryParse(env, out int n) && n > 0 ? n : Environment.ProcessorCount;
    }

    /// <summary>
    /// Runs <paramref name="body"/> over <c>[0, count)</c>. Loops of at most <paramref name="grain"/> iterations run
    /// serially on the caller; larger ones are cut into chunks of at least <paramref name="grain"/> iterations.
    /// </summary>
    public void For<T>(int count, int grain, ref T body) where T : struct, IRangeBody
    {
        if (count <= 0) return;
        grain = Math.Max(grain, 1);
        if (ThreadCount == 1 || count <= grain || t_insideBody)
        {
            body.Execute(0, count, 0);
            return;
        }
        // Several chunks per thread lets a thread that lost its core to a neighbour hand work over.
        int chunk = Math.Max(grain, (count + ThreadCount * 4 - 1) / (ThreadCount * 4));
        Run(count, chunk, &Invoke<T>, Unsafe.AsPointer(ref body));
    }

    /// <summary>Runs <paramref name="body"/> with exactly one chunk per thread (static split: each thread keeps its caches warm).</summary>
    public void ForEachThread<T>(int count, ref T body) where T : struct, IRangeBody
    {
        if (count <= 0) return;
        if (ThreadCount == 1 || t_insideBody || count == 1)
        {
            body.Execute(0, count, 0);
            return;
        }
        int chunk = (count + ThreadCount - 1) / ThreadCount;
        Run(count, chunk, &Invoke<T>, Unsafe.AsPointer(ref body));
    }

    private static void Invoke<T>(void* state, int start, int end, int worker) where T : struct, IRangeBody
        => Unsafe.AsRef<T>(state).Execute(start, end, worker);

    private void Run(int count, int chunk, delegate*<void*, int, int, int, void> fn, void* state)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_dispatchLock)
        {
            _fn = fn;
            _state = state;
            _count = count;
            _chunk = chunk;
            _chunkCount = (count + chunk - 1) / chunk;
            _nextChunk = 0;
            _error = null;
            _running = _workers.Length;
            Interlocked.Increment(ref _generation);
            if (Volatile.Read(ref _sleepers) > 0)
                lock (_sleepGate) Monitor.PulseAll(_sleepGate);

            DrainChunks(0);

            var spin = new SpinWait();
            while (Volatile.Read(ref _running) != 0) spin.SpinOnce(sleep1Threshold: -1);
            _fn = null;
            _state = null;
            if (_error is { } e) throw new AggregateException("a parallel kernel failed", e);
        }
    }

    private void DrainChunks(int worker)
    {
        t_insideBody = true;
        try
        {
            int c;
            while ((c = Interlocked.Increment(ref _nextChunk) - 1) < _chunkCount)
            {
                int start = c * _chunk;
                int end = Math.Min(start + _chunk, _count);
                _fn(_state, start, end, worker);
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, e, null);
            Volatile.Write(ref _nextChunk, int.MaxValue / 2);
        }
        finally
        {
            t_insideBody = false;
        }
    }

    private void WorkerLoop(int index)
    {
        long seen = 0;
        while (true)
        {
            // Spin first: per-token loops come back within microseconds, and a sleeping thread takes ~50 µs to wake.
            var spin = new SpinWait();
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                if (++spins < 20000) { spin.SpinOnce(sleep1Threshold: -1); continue; }
                lock (_sleepGate)
                {
                    Interlocked.Increment(ref _sleepers);
                    while (Interlocked.Read(ref _generation) == seen && !_disposed) Monitor.Wait(_sleepGate);
                    Interlocked.Decrement(ref _sleepers);
                }
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _generation);
            DrainChunks(index);
            Interlocked.Decrement(ref _running);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_sleepGate) Monitor.PulseAll(_sleepGate);
        foreach (var t in _workers) t.Join();
    }
}
