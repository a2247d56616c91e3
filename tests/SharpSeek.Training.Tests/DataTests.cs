using SharpSeek.Training.Data;

namespace SharpSeek.Training.Tests;

/// <summary>Token shards, packing, deterministic shuffling and resumable loader positions.</summary>
public class DataTests
{
    [Fact]
    public void ShardsRoundTripDocumentsWithSeparators()
    {
        using var dir = new TempDirectory();
        var tok = new ByteLevelTokenizer();
        string[] docs = ["héllo", "world", "third doc"];
        var paths = TokenShard.Write(docs, tok, dir.Path, "t", tokensPerShard: 8);
        Assert.True(paths.Count >= 2, "small shards should split the documents");
        var all = new List<int>();
        foreach (var p in paths)
        {
            using var shard = TokenShard.Open(p);
            Assert.Equal(2, shard.BytesPerToken);
            var buf = new int[shard.TokenCount];
            shard.Read(0, buf);
            all.AddRange(buf);
        }
        var expect = docs.SelectMany(d => new[] { ByteLevelTokenizer.Separator }.Concat(tok.Encode(d))).ToArray();
        Assert.Equal(expect, all);
        Assert.Equal("héllo" + "world" + "third doc", ByteLevelTokenizer.Decode(all));
    }

    [Fact]
    public void WideVocabulariesUseFourByteTokens()
    {
        using var dir = new TempDirectory();
        var tok = new DelegateTokenizer(s => s.Select(c => 70000 + c).ToArray(), 100_000, 99_999);
        var paths = TokenShard.Write(["ab"], tok, dir.Path, "w");
        using var shard = TokenShard.Open(paths[0]);
        Assert.Equal(4, shard.BytesPerToken);
        var buf = new int[3];
        shard.Read(0, buf);
        Assert.Equal([99_999, 70000 + 'a', 70000 + 'b'], buf);
    }

    [Fact]
    public void CorruptShardsAreRejected()
    {
        using var dir = new TempDirectory();
        var path = TokenShard.Write(["abc"], new ByteLevelTokenizer(), dir.Path, "c")[0];
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^1]);
        Assert.Throws<InvalidDataException>(() => TokenShard.Open(path).Dispose());
        bytes[0] = (byte)'X';
        File.WriteAllBytes(path, bytes);
        Assert.Throws<InvalidDataException>(() => TokenShard.Open(path).Dispose());
    }

    private static PackedDataset Dataset(TempDirectory dir, int tokens, int seq)
    {
        // Stream = separator, 0, 1, 2, …: every sample is identified by its first token.
        var tok = new DelegateTokenizer(_ => Enumerable.Range(0, tokens - 1).ToArray(), 100_000, 99_999);
        TokenShard.Write(["x"], tok, dir.Path, "d");
        return PackedDataset.FromDirectory(dir.Path, "d", seq);
    }

    [Fact]
    public void SamplesOverlapByOneTokenAndCrossShardBoundaries()
    {
        using var dir = new TempDirectory();
        var tok = new ByteLevelTokenizer();
        var paths = TokenShard.Write(["abcdefg", "hijklmn", "opq"], tok, dir.Path, "s", tokensPerShard: 8);
        Assert.Equal(3, paths.Count);
        using var data = PackedDataset.FromDirectory(dir.Path, "s", 5);
        Assert.Equal(20, data.TotalTokens);
        Assert.Equal(3, data.Samples); // (20 − 1) / 5
        var stream = paths.SelectMany(p => { using var s = TokenShard.Open(p); var b = new int[s.TokenCount]; s.Read(0, b); return b; }).ToArray();
        var sample = new int[6];
        for (int i = 0; i < data.Samples; i++)
        {
            data.CopySample(i, sample);
            Assert.Equal(stream[(i * 5)..(i * 5 + 6)], sample);
        }
    }

    [Fact]
    public void EveryEpochVisitsEverySampleOnceInASeededOrder()
    {
        using var dir = new TempDirectory();
        using var data = Dataset(dir, 1001, 10); // 100 samples
        var loader = new BatchLoader(data, 4, seed: 7);
        for (int b = 0; b < 25; b++) loader.Next();
        Assert.Equal(new LoaderPosition(0, 100), loader.Position);
        var replay = new BatchLoader(data, 4, seed: 7);
        var seen = new HashSet<string>();
        for (int b = 0; b < 25; b++)
        {
            var batch = replay.Next();
            for (int s = 0; s < 4; s++) Assert.True(seen.Add(batch.Tokens[s * 11].ToString()), "a sample repeated within one epoch");
        }
        Assert.Equal(100, seen.Count);
        var other = new BatchLoader(data, 4, seed: 8).Next();
        Assert.NotEqual(new BatchLoader(data, 4, seed: 7).Next().Tokens, other.Tokens);
    }

    [Fact]
    public void ALoaderRestartedFromItsPositionContinuesTheSameStream()
    {
        using var dir = new TempDirectory();
        using var data = Dataset(dir, 301, 10); // 30 samples: batches cross epoch boundaries
        var a = new BatchLoader(data, 4, seed: 3);
        for (int i = 0; i < 9; i++) a.Next();
        var restarted = new BatchLoader(data, 4, seed: 3, a.Position);
        for (int i = 0; i < 12; i++) Assert.Equal(a.Next().Tokens, restarted.Next().Tokens);
        Assert.True(a.Position.Epoch >= 2);
    }

    [Fact]
    public void BatchTargetsAndMtpInputsAreShiftedViews()
    {
        int[] tokens = [10, 11, 12, 13, 20, 21, 22, 23];
        var b = new TokenBatch(tokens, 2, 3);
        Assert.Equal([10, 11, 12, 20, 21, 22], b.Inputs());
        Assert.Equal([11, 12, 13, 21, 22, 23], b.MainTargets());
        Assert.Equal([11, 12, 13, 21, 22, 23], b.MtpInputs(1));
        Assert.Equal([12, 13, -1, 22, 23, -1], b.MtpTargets(1));
        Assert.Equal([12, 13, 0, 22, 23, 0], b.MtpInputs(2));
        Assert.Equal([13, -1, -1, 23, -1, -1], b.MtpTargets(2));
    }

    [Fact]
    public void GeneratedCorpusIsDeterministicPerSeed()
    {
        Assert.Equal(SyntheticCorpus.Documents(5, 20), SyntheticCorpus.Documents(5, 20));
        Assert.NotEqual(SyntheticCorpus.Documents(5, 20), SyntheticCorpus.Documents(6, 20));
    }
}
