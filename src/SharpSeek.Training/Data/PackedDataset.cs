namespace SharpSeek.Training.Data;

/// <summary>
/// Shards concatenated into one token stream, cut into fixed-length samples of SequenceLength + 1 tokens that overlap by
/// one (sample i covers tokens [i·T, i·T + T]): every token is a target exactly once per epoch. Documents stay packed
/// with their separators and attention crosses them, as in DeepSeek-V3 (which packs documents without a cross-sample
/// mask); the separator tells the model where a document starts.
/// </summary>
public sealed class PackedDataset : IDisposable
{
    private readonly TokenShard[] _shards;
    private readonly long[] _starts;

    public PackedDataset(IEnumerable<string> shardPaths, int sequenceLength)
    {
        if (sequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(sequenceLength), sequenceLength, "sequences need at least one position");
        _shards = shardPaths.Order(StringComparer.Ordinal).Select(TokenShard.Open).ToArray();
        if (_shards.Length == 0) throw new ArgumentException("no token shards given");
        _starts = new long[_shards.Length + 1];
        for (int i = 0; i < _shards.Length; i++) _starts[i + 1] = _starts[i] + _shards[i].TokenCount;
        SequenceLength = sequenceLength;
        VocabularySize = _shards.Max(s => s.VocabularySize);
        Samples = (TotalTokens - 1) / sequenceLength;
        if (Samples <= 0) throw new ArgumentException($"{TotalTokens} tokens do not make a single sample of {sequenceLength} + 1");
    }

    /// <summary>All <c>*.tokens</c> files of a directory whose names start with <paramref name="prefix"/>.</summary>
    public static PackedDataset FromDirectory(string directory, string prefix, int sequenceLength)
        => new(Directory.GetFiles(directory, $"{prefix}_*.tokens"), sequenceLength);

    public int SequenceLength { get; }
    public long TotalTokens => _starts[^1];
    public long Samples { get; }
    public int VocabularySize { get; }

    /// <summary>Copies sample <paramref name="index"/> (SequenceLength + 1 tokens) into <paramref name="dst"/>.</summary>
    public void CopySample(long index, Span<int> dst)
    {
        if ((ulong)index >= (ulong)Samples) throw new ArgumentOutOfRangeException(nameof(index), index, $"dataset has {Samples} samples");
        if (dst.Length != SequenceLength + 1) throw new ArgumentException($"a sample is {SequenceLength + 1} tokens");
        long pos = index * SequenceLength;
        int written = 0;
        while (written < dst.Length)
        {
            int shard = Array.BinarySearch(_starts, pos);
            if (shard < 0) shard = ~shard - 1;
            while (_starts[shard + 1] <= pos) shard++;
            long inShard = pos - _starts[shard];
            int take = (int)Math.Min(dst.Length - written, _shards[shard].TokenCount - inShard);
            _shards[shard].Read(inShard, dst.Slice(written, take));
            written += take;
            pos += take;
        }
    }

    public void Dispose()
    {
        foreach (var s in _shards) s.Dispose();
    }
}
