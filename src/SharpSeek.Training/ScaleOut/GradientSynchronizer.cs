using System.Diagnostics;
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
/// which is roughly the order the backward pass finishes them); a large matrix is its own bucket, reduced in place. During the last micro-batch's backward pass the tape
/// reports each parameter whose gradient can no longer change (<see cref="Tape{T}.GradientsFinal"/>); once a bucket's
/// parameters (and all earlier buckets') are final it is copied into its buffer and its nonblocking all-reduce starts, so the exchange of
/// the last layers overlaps the backward pass of the first. MPI progresses such a request only inside MPI calls, so every
/// notification also tests the requests in flight. <see cref="Finish"/> starts what is left, waits, and copies the mean back.
/// </remarks>
public sealed unsafe class GradientSynchronizer : IDisposable
{
    public const long BucketFloats = 1 << 20; // 4 MB: large enough to amortise a collective's latency, small enough to overlap
    /// <summary>A parameter at least this large is reduced where it lies (no copy into a bucket and back).</summary>
    public const long InPlaceFloats = 1 << 18;

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
            var p = trainable[i];
            if (p.Length >= InPlaceFloats)
            {
                buckets.Add(new Bucket([p], p.Length, inPlace: true));
                continue;
            }
            current.Add(p);
            size += p.Length;
            if (size >= BucketFloats)
            {
                buckets.Add(new Bucket([.. current], size, inPlace: false));
                current.Clear();
                size = 0;
            }
        }
        if (current.Count > 0) buckets.Add(new Bucket([.. current], size, inPlace: false));
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

    /// <summary>
    /// Starts every bucket not started yet (parameters unused this step included), waits for all, writes the sums back.
    /// Each rank's gradients were already scaled by 1/N (<see cref="Optimization.TrainingStep.Accumulate"/>), so the sum is the mean.
    /// </summary>
    public void Finish()
    {
        long t0 = Stopwatch.GetTimestamp();
        while (_nextToStart < _buckets.Length) Start(_buckets[_nextToStart++]);
        foreach (var b in _buckets)
        {
            if (!b.Done) b.Request!.Wait();
            b.Unpack();
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

    /// <summary>Parameters reduced together: copied into one buffer, or (one large parameter) reduced in its own gradient.</summary>
    private sealed class Bucket(Parameter<float>[] parameters, long length, bool inPlace) : IDisposable
    {
        private int _ready;

        public Parameter<float>[] Parameters { get; } = parameters;
        public long Length { get; } = length;
        public bool InPlace { get; } = inPlace;
        public float* Buffer { get; private set; } = inPlace ? parameters[0].Grad : (float*)NativeMemory.AlignedAlloc((nuint)(length * sizeof(float)), 64);
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
            if (InPlace) return;
            long at = 0;
            foreach (var p in Parameters)
            {
                new ReadOnlySpan<float>(p.Grad, checked((int)p.Length)).CopyTo(new Span<float>(Buffer + at, checked((int)p.Length)));
                at += p.Length;
            }
        }

        public void Unpack()
        {
            if (InPlace) return;
            long at = 0;
            foreach (var p in Parameters)
            {
                new ReadOnlySpan<float>(Buffer + at, checked((int)p.Length)).CopyTo(new Span<float>(p.Grad, checked((int)p.Length)));
                at += p.Length;
            }
        }

        public void Dispose()
        {
            if (Buffer != null && !InPlace) NativeMemory.AlignedFree(Buffer);
            Buffer = null;
        }
    }
}
