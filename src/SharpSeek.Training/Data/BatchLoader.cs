using SharpSeek.Tensors;

namespace SharpSeek.Training.Data;

/// <summary>Where a <see cref="BatchLoader"/> is: the epoch and how many samples of its permutation were served.</summary>
public readonly record struct LoaderPosition(long Epoch, long Cursor);

/// <summary>
/// Serves micro-batches of shuffled samples. Each epoch visits every sample once in a permutation that depends only on
/// (seed, epoch) — a Fisher–Yates shuffle driven by <see cref="DeterministicRandom"/> — so the loader's whole state is
/// its <see cref="Position"/>, and a run resumed from a checkpoint sees exactly the batches it would have seen.
/// </summary>
public sealed class BatchLoader
{
    private readonly PackedDataset _data;
    private long[]? _order;
    private long _orderEpoch = -1;

    public BatchLoader(PackedDataset data, int sequencesPerBatch, ulong seed, LoaderPosition position = default)
    {
        if (sequencesPerBatch <= 0) throw new ArgumentOutOfRangeException(nameof(sequencesPerBatch), sequencesPerBatch, "batches need sequences");
        _data = data;
        SequencesPerBatch = sequencesPerBatch;
        Seed = seed;
        Position = position;
    }

    public int SequencesPerBatch { get; }
    public ulong Seed { get; }
    public LoaderPosition Position { get; private set; }

    public TokenBatch Next()
    {
        int T = _data.SequenceLength;
        var tokens = new int[SequencesPerBatch * (T + 1)];
        for (int b = 0; b < SequencesPerBatch; b++)
        {
            var (epoch, cursor) = Position;
            if (cursor >= _data.Samples) { epoch++; cursor = 0; }
            _data.CopySample(Order(epoch)[cursor], tokens.AsSpan(b * (T + 1), T + 1));
            Position = new LoaderPosition(epoch, cursor + 1);
        }
        return new TokenBatch(tokens, SequencesPerBatch, T);
    }

    private long[] Order(long epoch)
    {
        if (_orderEpoch == epoch) return _order!;
        long n = _data.Samples;
        var order = new long[n];
        for (long i = 0; i < n; i++) order[i] = i;
        var rng = new DeterministicRandom(DeterministicRandom.SeedFor(Seed, $"epoch {epoch}"));
        for (long i = n - 1; i > 0; i--)
        {
            long j = (long)(rng.NextDouble() * (i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        _order = order;
        _orderEpoch = epoch;
        return order;
    }

    /// <summary>The first <paramref name="count"/> batches in file order (a fixed validation set).</summary>
    public static IReadOnlyList<TokenBatch> Sequential(PackedDataset data, int sequencesPerBatch, int count)
    {
        int T = data.SequenceLength;
        var batches = new List<TokenBatch>();
        long next = 0;
        for (int c = 0; c < count && next + sequencesPerBatch <= data.Samples; c++)
        {
            var tokens = new int[sequencesPerBatch * (T + 1)];
            for (int b = 0; b < sequencesPerBatch; b++) data.CopySample(next++, tokens.AsSpan(b * (T + 1), T + 1));
            batches.Add(new TokenBatch(tokens, sequencesPerBatch, T));
        }
        return batches;
    }
}
