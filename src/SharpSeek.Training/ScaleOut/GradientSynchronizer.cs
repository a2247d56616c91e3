using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using SharpSeek.Distributed;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.ScaleOut;

/// <summary>
/// Data parallelism's one exchange: after every rank has back-propagated its share of the global batch, each gradient
/// becomes the mean over ranks, so every rank takes the same optimizer step and the replicas stay identical.
/// </summary>
/// <remarks>
/// Gradients travel in buckets of about <see cref="BucketFloats"/> floats (the parameters in reverse declaration order,
/// which is roughly the order the backward pass finishes them). During the last micro-batch's backward pass the tape
/// reports each parameter whose gradient can no longer change (<see cref="Tape{T}.GradientsFinal"/>); once a bucket's
/// parameters (and all earlier buckets') are final it is copied into its buffer and its nonblocking all-reduce starts, so the exchange of
/// the last layers overlaps the backward pass of the first. MPI progresses such a request only inside MPI calls, so every
/// notification also tests the requests in flight. <see cref="Finish"/> starts what is left, waits, and copies the mean back.
/// </remarks>
public sealed unsafe class GradientSynchronizer : IDisposable
{
    public const long BucketFloats = 1 << 20; // 4 MB: large enough to amortise a collective's latency, small enough to overlap

    private readonly ICommunicator _world;
    private readonly Bucket[] _buckets;
    private readonly Dictionary<Parameter<float>, Bucket> _bucketOf = [];
    private long _ticksInCalls;
    private int _nextToStart;

    public GradientSynchronizer(IReadOnlyList<Parameter<float>> trainable, ICommunicator world)
    {
        _world = world;
        var buckets = new List<Bucket>();
        var current = new List<Parameter<float>>();
        long size = 0;
        for (int i = trainable.Count - 1; i >= 0; i--)
        {
            current.Add(trainable[i]);
            size += trainable[i].Length;
            if (size >= BucketFloats || i == 0)
            {
                buckets.Add(new Bucket([.. current], size));
                current.Clear();
                size = 0;
            }
        }
        _buckets = [.. buckets];
        foreach (var b in _buckets) foreach (var p in b.Parameters) _bucketOf[p] = b;
    }

    public int Buckets => _buckets.Length;
    /// <summary>Time spent inside communication calls since the last <see cref="TakeCommunicationSeconds"/>.</summary>
    public double TakeCommunicationSeconds()
    {
        double s = Stopwatch.GetElapsedTime(0, _ticksInCalls).TotalSeconds;
        _ticksInCalls = 0;
        return s;
    }

    /// <summary>Forgets the last step's state (call before the step's first micro-batch).</summary>
    public void Begin()
    {
        foreach (var b in _buckets) b.Reset();
        _nextToStart = 0;
    }

    /// <summary>The tape's report during the last micro-batch: these gradients are final.</summary>
    public void OnFinal(List<Parameter<float>> parameters)
    {
        long t0 = Stopwatch.GetTimestamp();
        foreach (var p in parameters)
            if (_bucketOf.TryGetValue(p, out var b)) b.MarkReady();
        // Collectives must start in the same order on every rank; readiness may not (routing differs), so buckets
        // start strictly in index order, each as soon as it and all before it are ready.
        while (_nextToStart < _buckets.Length && _buckets[_nextToStart].AllReady) Start(_buckets[_nextToStart++]);
        foreach (var b in _buckets) if (b.Started && !b.Done) b.Done = b.Request!.Test();
        _ticksInCalls += Stopwatch.GetTimestamp() - t0;
    }

    /// <summary>Starts every bucket not started yet (parameters unused this step included), waits for all, writes the mean back.</summary>
    public void Finish()
    {
        long t0 = Stopwatch.GetTimestamp();
        while (_nextToStart < _buckets.Length) Start(_buckets[_nextToStart++]);
        float scale = 1f / _world.Size;
        foreach (var b in _buckets)
        {
            if (!b.Done) b.Request!.Wait();
            b.Unpack(scale);
        }
        _ticksInCalls += Stopwatch.GetTimestamp() - t0;
    }

    private void Start(Bucket b)
    {
        b.Pack();
        b.Request = _world.StartAllReduceSum(b.Buffer, b.Length);
        b.Started = true;
    }

    public void Dispose()
    {
        foreach (var b in _buckets) b.Dispose();
    }

    private sealed class Bucket(Parameter<float>[] parameters, long length) : IDisposable
    {
        private int _ready;

        public Parameter<float>[] Parameters { get; } = parameters;
        public long Length { get; } = length;
        public float* Buffer { get; private set; } = (float*)NativeMemory.AlignedAlloc((nuint)(length * sizeof(float)), 64);
        public bool Started { get; set; }
        public bool Done { get; set; }
        public PendingReduction? Request { get; set; }

        public void Reset()
        {
            _ready = 0;
            Started = Done = false;
            Request = null;
        }

        public void MarkReady() => _ready++;
        public bool AllReady => _ready >= Parameters.Length;

        public void Pack()
        {
            long at = 0;
            foreach (var p in Parameters)
            {
                new ReadOnlySpan<float>(p.Grad, checked((int)p.Length)).CopyTo(new Span<float>(Buffer + at, checked((int)p.Length)));
                at += p.Length;
            }
        }

        public void Unpack(float scale)
        {
            long at = 0;
            foreach (var p in Parameters)
            {
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(Buffer + at, checked((int)p.Length)), scale, new Span<float>(p.Grad, checked((int)p.Length)));
                at += p.Length;
            }
        }

        public void Dispose()
        {
            if (Buffer != null) NativeMemory.AlignedFree(Buffer);
            Buffer = null;
        }
    }
}
