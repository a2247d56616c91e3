using System.Text;
using SharpSeek.Training.Data;

namespace SharpSeek.Training.Tests;

/// <summary>
/// Text corpora into token shards (<see cref="CorpusSharder"/>): the dataset is the same bytes for any number of parts
/// and threads, a changed file or tokenizer is tokenized again while the rest is reused, and a truncated or
/// half-written shard never becomes part of a dataset.
/// </summary>
public class CorpusTests
{
    private static readonly ByteLevelTokenizer Bytes = new();

    /// <summary>Nine files of different sizes in nested folders, plain text (LF and CRLF), Markdown and JSON Lines.</summary>
    private static string MakeCorpus(string root)
    {
        string corpus = Path.Combine(root, "corpus");
        Directory.CreateDirectory(Path.Combine(corpus, "b", "deeper"));
        var docs = SyntheticCorpus.Documents(seed: 7, count: 900).ToArray();
        int next = 0;
        string[] Take(int n)
        {
            var taken = docs[next..(next + n)];
            next += n;
            return taken;
        }
        string[] names = ["a.txt", "b/one.md", "b/two.txt", "b/deeper/three.text", "c.txt", "d.txt", "e.md", "f.txt"];
        int[] sizes = [200, 15, 120, 60, 1, 180, 90, 134];
        for (int i = 0; i < names.Length; i++)
        {
            string newline = i == 2 ? "\r\n" : "\n";
            File.WriteAllText(Path.Combine(corpus, names[i]), string.Join(newline + newline, Take(sizes[i]).Select(d => d.Replace("\n", newline, StringComparison.Ordinal))));
        }
        var lines = Take(100).Select(d => System.Text.Json.JsonSerializer.Serialize(new { id = 1, text = d }));
        File.WriteAllText(Path.Combine(corpus, "g.jsonl"), string.Join('\n', lines) + "\n");
        return corpus;
    }

    private static CorpusSummary ShardAll(IReadOnlyList<CorpusFile> files, string dir, int parts, int threads, ITextTokenizer? tokenizer = null, string identity = "bytes")
    {
        var sharder = new CorpusSharder(files, tokenizer ?? Bytes, identity, dir);
        for (int p = 0; p < parts; p++) sharder.ShardPart(p, parts, threads);
        return sharder.Finish();
    }

    /// <summary>Every shard of a dataset folder by name, with its bytes.</summary>
    private static SortedDictionary<string, string> Snapshot(string dir) => new(
        Directory.GetFiles(dir, "*.tokens").ToDictionary(p => Path.GetFileName(p), p => Convert.ToHexString(File.ReadAllBytes(p))),
        StringComparer.Ordinal);

    /// <summary>The token stream <see cref="PackedDataset"/> reads: the prefix's shards in name order, concatenated.</summary>
    private static List<int> Stream(string dir, string prefix)
    {
        var all = new List<int>();
        foreach (string path in Directory.GetFiles(dir, $"{prefix}_*.tokens").Order(StringComparer.Ordinal))
        {
            using var shard = TokenShard.Open(path);
            var buffer = new int[shard.TokenCount];
            shard.Read(0, buffer);
            all.AddRange(buffer);
        }
        return all;
    }

    [Fact]
    public void Parts_and_threads_do_not_change_the_dataset()
    {
        using var dir = new TempDirectory();
        var files = CorpusFiles.Find(MakeCorpus(dir.Path)).Files;
        Assert.Equal(9, files.Count);
        string one = Path.Combine(dir.Path, "one"), two = Path.Combine(dir.Path, "two"), three = Path.Combine(dir.Path, "three"), wide = Path.Combine(dir.Path, "wide");

        ShardAll(files, one, parts: 1, threads: 1);
        var sharder = new CorpusSharder(files, Bytes, "bytes", two);
        var first = sharder.ShardPart(0, 2, threads: 1);
        Assert.Throws<InvalidOperationException>(() => sharder.Finish()); // half the files: not a dataset yet
        var second = sharder.ShardPart(1, 2, threads: 2);
        Assert.True(first.Files > 0 && second.Files > 0, "both parts should get files");
        Assert.Equal(files.Count, first.Tokenized + second.Tokenized);
        sharder.Finish();
        ShardAll(files, three, parts: 3, threads: 3);
        ShardAll(files, wide, parts: 1, threads: 4);

        var expected = Snapshot(one);
        Assert.Equal(expected, Snapshot(two));
        Assert.Equal(expected, Snapshot(three));
        Assert.Equal(expected, Snapshot(wide));

        // The stream is every file's documents in corpus order, each behind the separator, split by the hold-out rule.
        var train = new List<int>();
        var validation = new List<int>();
        foreach (var file in files)
            foreach (string document in CorpusDocuments.Read(file))
                (CorpusSharder.IsHeldOut(document) ? validation : train).AddRange([ByteLevelTokenizer.Separator, .. Bytes.Encode(document)]);
        Assert.NotEmpty(validation);
        Assert.Equal(train, Stream(one, "train"));
        Assert.Equal(validation, Stream(one, "val"));
        using var dataset = PackedDataset.FromDirectory(one, "train", 32);
        Assert.Equal(train.Count, dataset.TotalTokens);
    }

    [Fact]
    public void Parts_deal_every_file_to_exactly_one_part()
    {
        var files = Enumerable.Range(0, 23).Select(i => new CorpusFile($"/x/{i}", $"{i}", (i * 7919) % 1000, 0, CorpusFormat.Text)).ToArray();
        for (int parts = 1; parts <= 6; parts++)
        {
            var dealt = Enumerable.Range(0, parts).SelectMany(p => CorpusSharder.FilesOfPart(files, p, parts)).Order().ToArray();
            Assert.Equal(Enumerable.Range(0, files.Length), dealt);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => CorpusSharder.FilesOfPart(files, 2, 2));
    }

    [Fact]
    public void A_changed_file_or_tokenizer_is_tokenized_again_the_rest_is_reused()
    {
        using var dir = new TempDirectory();
        string corpus = MakeCorpus(dir.Path), data = Path.Combine(dir.Path, "data");
        var files = CorpusFiles.Find(corpus).Files;
        var sharder = new CorpusSharder(files, Bytes, "bytes", data);
        Assert.Equal(files.Count, sharder.ShardPart(threads: 2).Tokenized);
        sharder.Finish();
        Assert.Equal(new CorpusPartReport(files.Count, 0, files.Count), new CorpusSharder(files, Bytes, "bytes", data).ShardPart(threads: 2));

        // A longer file.
        File.AppendAllText(Path.Combine(corpus, "c.txt"), "\n\nan added paragraph about the cat");
        // A file of the same length with other text and another write time.
        string d = Path.Combine(corpus, "d.txt");
        var stamp = File.GetLastWriteTimeUtc(d);
        var text = File.ReadAllText(d).ToCharArray();
        text[10] = text[10] == 'x' ? 'y' : 'x';
        File.WriteAllText(d, new string(text));
        File.SetLastWriteTimeUtc(d, stamp.AddMinutes(1));

        files = CorpusFiles.Find(corpus).Files;
        var report = new CorpusSharder(files, Bytes, "bytes", data).ShardPart(threads: 2);
        Assert.Equal(2, report.Tokenized);
        Assert.Equal(files.Count - 2, report.Reused);
        new CorpusSharder(files, Bytes, "bytes", data).Finish();
        string fresh = Path.Combine(dir.Path, "fresh");
        ShardAll(files, fresh, parts: 1, threads: 1);
        Assert.Equal(Snapshot(fresh), Snapshot(data));

        // Another tokenizer (same vocabulary, other identity) redoes everything.
        Assert.Equal(files.Count, new CorpusSharder(files, Bytes, "bytes-v2", data).ShardPart(threads: 2).Tokenized);
        // A shifted tokenizer gives other shards, and they replace the old ones.
        var shifted = new DelegateTokenizer(s => Bytes.Encode(s).Select(b => b + 1).ToArray(), 300, 0);
        var summary = ShardAll(files, data, parts: 1, threads: 2, shifted, "shifted");
        Assert.NotEqual(Snapshot(fresh), Snapshot(data));
        Assert.Equal(0, Stream(data, "train")[0]);
        Assert.True(summary.TrainTokens > 0);
    }

    [Fact]
    public void Truncated_or_half_written_shards_are_never_picked_up()
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(dir.Path, "data");
        var files = CorpusFiles.Find(MakeCorpus(dir.Path)).Files;
        ShardAll(files, data, parts: 1, threads: 2);
        var complete = Snapshot(data);

        // File 2's shard loses its tail; file 3's record is gone (killed between its shards and its record); leftovers of
        // a killed writer and of a bigger, older corpus lie around.
        string truncated = Path.Combine(data, CorpusSharder.TrainShardName(2));
        using (var f = new FileStream(truncated, FileMode.Open)) f.SetLength(f.Length / 2);
        File.Delete(Path.Combine(data, CorpusSharder.RecordName(3)));
        File.WriteAllBytes(Path.Combine(data, CorpusSharder.TrainShardName(4) + ".0123abcd.tmp"), [1, 2, 3]);
        File.Copy(Path.Combine(data, CorpusSharder.TrainShardName(0)), Path.Combine(data, CorpusSharder.TrainShardName(99)));
        File.Copy(Path.Combine(data, CorpusSharder.RecordName(0)), Path.Combine(data, CorpusSharder.RecordName(99)));

        var sharder = new CorpusSharder(files, Bytes, "bytes", data);
        var e = Assert.Throws<InvalidOperationException>(() => sharder.Finish());
        Assert.Contains(files[2].Name, e.Message);

        var report = sharder.ShardPart(threads: 2);
        Assert.Equal(2, report.Tokenized);
        sharder.Finish();
        Assert.Equal(complete, Snapshot(data));
        Assert.Empty(Directory.GetFiles(data, "*.tmp"));
        Assert.False(File.Exists(Path.Combine(data, CorpusSharder.RecordName(99))));
        Assert.True(File.Exists(Path.Combine(data, CorpusSharder.ManifestFile)));
    }

    [Fact]
    public void A_writer_that_is_not_committed_leaves_no_shard()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "train_00000000.tokens");
        using (var writer = new TokenShardWriter(path, 257))
            writer.AddDocument(256, [1, 2, 3]);
        Assert.Empty(Directory.GetFiles(dir.Path));

        using (var writer = new TokenShardWriter(path, 100_000))
        {
            writer.AddDocument(99_999, [70_000, 5]);
            writer.AddDocument(99_999, []);
            Assert.Equal(TokenShard.HeaderBytes + 4 * 4, writer.Commit());
        }
        using var shard = TokenShard.Open(path);
        Assert.Equal((4, 4L, 2), (shard.BytesPerToken, shard.TokenCount, shard.DocumentCount));
        var ids = new int[4];
        shard.Read(0, ids);
        Assert.Equal([99_999, 70_000, 5, 99_999], ids);
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Documents_are_paragraphs_or_json_lines()
    {
        using var dir = new TempDirectory();
        string text = Path.Combine(dir.Path, "a.txt");
        File.WriteAllText(text, "first line\r\nstill first\r\n\r\n  \t\r\nsecond\n\n\n\nthird\n");
        Assert.Equal(["first line\nstill first", "second", "third"], CorpusDocuments.Read(CorpusFile.FromPath(text, "a.txt")));

        string lines = Path.Combine(dir.Path, "b.jsonl");
        File.WriteAllText(lines, "{\"text\": \"one\"}\n\n{\"text\": \"\"}\n{\"id\": 3, \"text\": \"two\\nlines\"}\n");
        Assert.Equal(["one", "two\nlines"], CorpusDocuments.Read(CorpusFile.FromPath(lines, "b.jsonl")));

        File.WriteAllText(lines, "{\"text\": \"one\"}\n{\"text\": 1}\n");
        var e = Assert.Throws<InvalidDataException>(() => CorpusDocuments.Read(CorpusFile.FromPath(lines, "b.jsonl")).ToList());
        Assert.Contains("b.jsonl:2", e.Message);
        File.WriteAllText(lines, "not json\n");
        Assert.Throws<InvalidDataException>(() => CorpusDocuments.Read(CorpusFile.FromPath(lines, "b.jsonl")).ToList());

        File.WriteAllBytes(text, [(byte)'a', 0xFF, (byte)'b', (byte)'\n']);
        Assert.Contains("not UTF-8", Assert.Throws<InvalidDataException>(() => CorpusDocuments.Read(CorpusFile.FromPath(text, "a.txt")).ToList()).Message);

        // A paragraph without end is cut into bounded documents at line breaks.
        string line = new('x', 1000);
        File.WriteAllText(text, string.Join('\n', Enumerable.Repeat(line, 2 * CorpusDocuments.MaxDocumentChars / 1000 + 5)));
        var cut = CorpusDocuments.Read(CorpusFile.FromPath(text, "a.txt")).ToList();
        Assert.Equal(3, cut.Count);
        Assert.All(cut, d => Assert.True(d.Length < CorpusDocuments.MaxDocumentChars + 1001));
    }

    [Fact]
    public void A_folder_lists_its_text_files_in_order_and_skips_the_rest()
    {
        using var dir = new TempDirectory();
        string root = Path.Combine(dir.Path, "corpus");
        foreach (string sub in new[] { "sub", ".hidden", "run" }) Directory.CreateDirectory(Path.Combine(root, sub));
        File.WriteAllText(Path.Combine(root, "sub", "b.md"), "b");
        File.WriteAllText(Path.Combine(root, "a.TXT"), "a");
        File.WriteAllText(Path.Combine(root, "c.jsonl"), "{\"text\": \"c\"}");
        File.WriteAllText(Path.Combine(root, ".hidden", "x.txt"), "x");
        File.WriteAllText(Path.Combine(root, "run", "metrics.jsonl"), "{\"kind\": \"step\"}");
        File.WriteAllBytes(Path.Combine(root, "d.bin"), [0, 1, 2]);
        File.WriteAllBytes(Path.Combine(root, "e.txt"), Encoding.UTF8.GetBytes("text\0with a NUL"));

        var listing = CorpusFiles.Find(root, exclude: Path.Combine(root, "run"));
        Assert.Equal(["a.TXT", "c.jsonl", "sub/b.md"], listing.Files.Select(f => f.Name));
        Assert.Equal([CorpusFormat.Text, CorpusFormat.JsonLines, CorpusFormat.Text], listing.Files.Select(f => f.Format));
        Assert.Equal(2, listing.Skipped.Count);
        Assert.Contains(listing.Skipped, s => s.Contains("d.bin", StringComparison.Ordinal));
        Assert.Contains(listing.Skipped, s => s.StartsWith("e.txt: binary", StringComparison.Ordinal));

        Assert.Throws<InvalidDataException>(() => CorpusFiles.Find(Path.Combine(root, "e.txt")));
        Assert.Throws<FileNotFoundException>(() => CorpusFiles.Find(Path.Combine(root, "missing")));
        Assert.Equal("b.md", Assert.Single(CorpusFiles.Find(Path.Combine(root, "sub", "b.md")).Files).Name);
    }

    [Fact]
    public void About_one_document_in_twenty_is_held_out_by_its_text_alone()
    {
        var docs = SyntheticCorpus.Documents(seed: 11, count: 4000).ToArray();
        double share = docs.Count(CorpusSharder.IsHeldOut) / (double)docs.Length;
        Assert.InRange(share, 0.035, 0.065);
        Assert.All(docs.Take(50), d => Assert.Equal(CorpusSharder.IsHeldOut(d), CorpusSharder.IsHeldOut(new string(d.AsSpan()))));
    }
}
