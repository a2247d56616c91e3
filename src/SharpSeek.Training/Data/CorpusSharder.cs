using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using SharpSeek.Formats;

namespace SharpSeek.Training.Data;

/// <summary>Where tokenizing a part stands; reported after every file.</summary>
public sealed record CorpusProgress(int FilesDone, int FilesTotal, long BytesDone, long BytesTotal, int FilesReused);

/// <summary>What <see cref="CorpusSharder.ShardPart"/> did: its files, how many it tokenized and how many it found done.</summary>
public sealed record CorpusPartReport(int Files, int Tokenized, int Reused);

/// <summary>The finished dataset: files, documents and tokens on each side of the validation hold-out.</summary>
public sealed record CorpusSummary(int Files, long TrainDocuments, long ValidationDocuments, long TrainTokens, long ValidationTokens);

/// <summary>
/// Tokenizes a list of corpus files (<see cref="CorpusFiles"/>) into <see cref="TokenShard"/>s that
/// <see cref="PackedDataset.FromDirectory"/> reads, split into parts that separate processes (MPI ranks) or threads can
/// do independently:
/// <list type="bullet">
/// <item><b>Naming by input order.</b> File i of the list becomes <c>train_{i:D8}.tokens</c> and, when some of its
/// documents are held out, <c>val_{i:D8}.tokens</c>. Its documents (<see cref="CorpusDocuments"/>) go to the shards in
/// file order, each behind the tokenizer's separator. So the dataset — the shards in name order — is the same bytes
/// whatever the number of parts, which part did which file, and how many threads each used.</item>
/// <item><b>Validation hold-out.</b> A document is held out when a hash of its text (64-bit FNV-1a over its UTF-16 code
/// units, then MurmurHash3's finalizer) is divisible by <see cref="ValidationEvery"/>, so about 1 in 20. The rule
/// depends only on the text: not on file order, parts or threads, and duplicate documents never straddle the split.</item>
/// <item><b>Parts.</b> <see cref="FilesOfPart"/> deals the files to parts by size (largest first, each to the least
/// loaded part), the same on every rank; part p tokenizes only its files, on up to <c>threads</c> threads.</item>
/// <item><b>Atomic, resumable.</b> Each shard is streamed to a temporary file and renamed when complete
/// (<see cref="TokenShardWriter"/>); then a record <c>file_{i:D8}.json</c> (the source's name, length and write time,
/// the tokenizer's identity, and each shard's token count and byte length) is written atomically. A file whose record
/// matches the source, the tokenizer and the shards on disk is reused; anything else — no record, a changed file or
/// tokenizer, a missing or truncated shard — is tokenized again, its old record and shards deleted first.</item>
/// <item><b>Finish.</b> Once every part is done (one process, after a barrier), <see cref="Finish"/> checks every
/// file's record, deletes shards, records and temporary files that belong to no current file (a killed run's
/// leftovers, an older corpus), and writes the manifest <c>corpus.json</c>. Only then is the folder a dataset.</item>
/// </list>
/// </summary>
public sealed class CorpusSharder
{
    public const string ManifestFile = "corpus.json";
    public const string RecordFormat = "sharpseek-corpus-file-v1";
    public const string ManifestFormat = "sharpseek-corpus-v1";
    /// <summary>About one document in this many is held out for validation (see <see cref="IsHeldOut"/>).</summary>
    public const int ValidationEvery = 20;

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly IReadOnlyList<CorpusFile> _files;
    private readonly ITextTokenizer _tokenizer;
    private readonly string _identity;

    /// <param name="files">The corpus in order (<see cref="CorpusFiles.Find"/>); every part must be given the same list.</param>
    /// <param name="tokenizer">Text → ids; must be safe to call from several threads at once.</param>
    /// <param name="tokenizerIdentity">Names the tokenizer exactly (e.g. a hash of its files): shards made with another are redone.</param>
    /// <param name="directory">The dataset folder; it belongs to this corpus (files of other corpora in it are deleted by <see cref="Finish"/>).</param>
    public CorpusSharder(IReadOnlyList<CorpusFile> files, ITextTokenizer tokenizer, string tokenizerIdentity, string directory)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentException.ThrowIfNullOrEmpty(tokenizerIdentity);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _files = files;
        _tokenizer = tokenizer;
        _identity = tokenizerIdentity;
        Directory = Path.GetFullPath(directory);
    }

    public string Directory { get; }

    public static string TrainShardName(int index) => string.Create(CultureInfo.InvariantCulture, $"train_{index:D8}.tokens");
    public static string ValidationShardName(int index) => string.Create(CultureInfo.InvariantCulture, $"val_{index:D8}.tokens");
    public static string RecordName(int index) => string.Create(CultureInfo.InvariantCulture, $"file_{index:D8}.json");

    /// <summary>Whether a document goes to validation; see the class summary.</summary>
    public static bool IsHeldOut(string document)
    {
        ArgumentNullException.ThrowIfNull(document);
        ulong h = 14695981039346656037UL;
        foreach (char c in document)
        {
            h ^= c;
            h *= 1099511628211UL;
        }
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53UL;
        h ^= h >> 33;
        return h % ValidationEvery == 0;
    }

    /// <summary>
    /// The indices of the files part <paramref name="part"/> of <paramref name="parts"/> tokenizes, largest first: files
    /// are dealt by length (largest first, ties by index) to the part with the fewest bytes so far (ties: lowest part).
    /// </summary>
    public static IReadOnlyList<int> FilesOfPart(IReadOnlyList<CorpusFile> files, int part, int parts)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (parts < 1) throw new ArgumentOutOfRangeException(nameof(parts), parts, "there must be at least one part");
        if (part < 0 || part >= parts) throw new ArgumentOutOfRangeException(nameof(part), part, $"part must be in [0, {parts})");
        var order = Enumerable.Range(0, files.Count).OrderByDescending(i => files[i].Length).ThenBy(i => i).ToArray();
        var load = new long[parts];
        var mine = new List<int>();
        foreach (int i in order)
        {
            int least = 0;
            for (int p = 1; p < parts; p++)
                if (load[p] < load[least]) least = p;
            load[least] += Math.Max(1, files[i].Length);
            if (least == part) mine.Add(i);
        }
        return mine;
    }

    /// <summary>
    /// Tokenizes the files of part <paramref name="part"/> of <paramref name="parts"/> that are not already done, on up to
    /// <paramref name="threads"/> threads (0: one per core). <paramref name="progress"/> is called after every file,
    /// one call at a time.
    /// </summary>
    /// <exception cref="InvalidDataException">A file is not UTF-8 text or not valid JSON Lines, or the tokenizer failed.</exception>
    public CorpusPartReport ShardPart(int part = 0, int parts = 1, int threads = 0, Action<CorpusProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var mine = FilesOfPart(_files, part, parts);
        System.IO.Directory.CreateDirectory(Directory);
        long bytesTotal = mine.Sum(i => _files[i].Length), bytesDone = 0;
        int done = 0, reused = 0;
        var gate = new Lock();
        var options = new ParallelOptions
        {
            MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount,
            CancellationToken = cancellationToken,
        };
        try
        {
            Parallel.ForEach(Partitioner.Create(mine, EnumerablePartitionerOptions.NoBuffering), options, i =>
            {
                bool current = Current(i) is not null;
                if (!current) Tokenize(i, cancellationToken);
                lock (gate)
                {
                    done++;
                    if (current) reused++;
                    bytesDone += _files[i].Length;
                    progress?.Invoke(new CorpusProgress(done, mine.Count, bytesDone, bytesTotal, reused));
                }
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
        return new CorpusPartReport(mine.Count, mine.Count - reused, reused);
    }

    /// <summary>
    /// Makes the folder the dataset of exactly this corpus: checks that every file is done, deletes what belongs to no
    /// current file, writes <see cref="ManifestFile"/>. Call once, after every part.
    /// </summary>
    /// <exception cref="InvalidOperationException">A file has no complete shards (a part did not run or did not finish).</exception>
    /// <exception cref="InvalidDataException">No document is left for training.</exception>
    public CorpusSummary Finish()
    {
        var records = new FileRecord[_files.Count];
        var keep = new HashSet<string>(StringComparer.Ordinal) { ManifestFile };
        for (int i = 0; i < _files.Count; i++)
        {
            records[i] = Current(i) ?? throw new InvalidOperationException(
                $"{_files[i].Name} (file {i} of the corpus) has no complete shards in {Directory}: every part must be tokenized before the dataset is finished");
            keep.Add(RecordName(i));
            if (records[i].Train is { } t) keep.Add(t.Name);
            if (records[i].Validation is { } v) keep.Add(v.Name);
        }
        foreach (string path in System.IO.Directory.EnumerateFiles(Directory))
        {
            string name = Path.GetFileName(path);
            if (keep.Contains(name) || !IsDatasetFile(name)) continue;
            File.Delete(path);
        }
        var summary = new CorpusSummary(
            _files.Count,
            records.Sum(r => (long?)r.Train?.Documents ?? 0), records.Sum(r => (long?)r.Validation?.Documents ?? 0),
            records.Sum(r => r.Train?.Tokens ?? 0), records.Sum(r => r.Validation?.Tokens ?? 0));
        if (summary.TrainDocuments == 0)
            throw new InvalidDataException(_files.Count == 0
                ? "the corpus has no files"
                : $"the corpus ({_files.Count} file(s), {summary.ValidationDocuments} document(s) held out for validation) has no document to train on");
        var manifest = new Manifest(ManifestFormat, _identity, _tokenizer.VocabularySize, _tokenizer.DocumentSeparator,
            summary.TrainDocuments, summary.ValidationDocuments, summary.TrainTokens, summary.ValidationTokens, records);
        AtomicFile.WriteAllText(Path.Combine(Directory, ManifestFile), JsonSerializer.Serialize(manifest, s_json));
        return summary;
    }

    /// <summary>Names this class writes into a dataset folder (shards, records, temporary files).</summary>
    private static bool IsDatasetFile(string name) =>
        name.EndsWith(".tmp", StringComparison.Ordinal)
        || ((name.StartsWith("train_", StringComparison.Ordinal) || name.StartsWith("val_", StringComparison.Ordinal)) && name.EndsWith(".tokens", StringComparison.Ordinal))
        || (name.StartsWith("file_", StringComparison.Ordinal) && name.EndsWith(".json", StringComparison.Ordinal));

    /// <summary>File i's record when it matches the source, the tokenizer and the shards on disk; otherwise null.</summary>
    private FileRecord? Current(int index)
    {
        var file = _files[index];
        string path = Path.Combine(Directory, RecordName(index));
        FileRecord? record;
        try
        {
            if (!File.Exists(path)) return null;
            record = JsonSerializer.Deserialize<FileRecord>(File.ReadAllText(path), s_json);
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            return null;
        }
        if (record is null || record.Format != RecordFormat || record.Index != index || record.Source != file.Name
            || record.Length != file.Length || record.LastWriteUtcTicks != file.LastWriteUtcTicks
            || record.Tokenizer != _identity || record.Vocabulary != _tokenizer.VocabularySize || record.Separator != _tokenizer.DocumentSeparator)
            return null;
        return ShardIsIntact(record.Train, TrainShardName(index)) && ShardIsIntact(record.Validation, ValidationShardName(index)) ? record : null;
    }

    private bool ShardIsIntact(ShardEntry? entry, string expectedName)
    {
        if (entry is null) return true;
        if (entry.Name != expectedName) return false;
        string path = Path.Combine(Directory, entry.Name);
        var info = new FileInfo(path);
        if (!info.Exists || info.Length != entry.Bytes) return false;
        try
        {
            using var shard = TokenShard.Open(path);
            return shard.TokenCount == entry.Tokens && shard.DocumentCount == entry.Documents && shard.VocabularySize == _tokenizer.VocabularySize;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return false;
        }
    }

    private void Tokenize(int index, CancellationToken cancellationToken)
    {
        var file = _files[index];
        string trainPath = Path.Combine(Directory, TrainShardName(index)), valPath = Path.Combine(Directory, ValidationShardName(index));
        // The record goes first: from here until the new record is written, file i counts as not done.
        File.Delete(Path.Combine(Directory, RecordName(index)));
        File.Delete(trainPath);
        File.Delete(valPath);
        int vocabulary = _tokenizer.VocabularySize, separator = _tokenizer.DocumentSeparator;
        TokenShardWriter? train = null, validation = null;
        try
        {
            foreach (string document in CorpusDocuments.Read(file))
            {
                cancellationToken.ThrowIfCancellationRequested();
                int[] ids;
                try
                {
                    ids = _tokenizer.Encode(document);
                }
                catch (Exception e) when (e is not OperationCanceledException and not InvalidDataException)
                {
                    throw new InvalidDataException($"{file.FullPath}: the tokenizer failed on a document: {e.Message}", e);
                }
                if (ids.Length == 0) continue;
                foreach (int id in ids)
                    if ((uint)id >= (uint)vocabulary) throw new InvalidDataException($"{file.FullPath}: the tokenizer produced id {id}, outside its vocabulary of {vocabulary}");
                var writer = IsHeldOut(document) ? validation ??= new TokenShardWriter(valPath, vocabulary) : train ??= new TokenShardWriter(trainPath, vocabulary);
                writer.AddDocument(separator, ids);
            }
            var record = new FileRecord
            {
                Index = index, Source = file.Name, Length = file.Length, LastWriteUtcTicks = file.LastWriteUtcTicks,
                Tokenizer = _identity, Vocabulary = vocabulary, Separator = separator,
                Train = Complete(train, TrainShardName(index)), Validation = Complete(validation, ValidationShardName(index)),
            };
            AtomicFile.WriteAllText(Path.Combine(Directory, RecordName(index)), JsonSerializer.Serialize(record, s_json));
        }
        finally
        {
            train?.Dispose();
            validation?.Dispose();
        }
    }

    private static ShardEntry? Complete(TokenShardWriter? writer, string name)
    {
        if (writer is null) return null;
        long tokens = writer.TokenCount;
        int documents = writer.DocumentCount;
        return new ShardEntry(name, tokens, documents, writer.Commit());
    }

    /// <summary>One shard of a file: its name, tokens (separators included), documents and length in bytes.</summary>
    internal sealed record ShardEntry(string Name, long Tokens, int Documents, long Bytes);

    /// <summary>The record <c>file_{i:D8}.json</c>: file i is done when this matches the source, the tokenizer and the shards.</summary>
    internal sealed record FileRecord
    {
        public string Format { get; init; } = RecordFormat;
        public required int Index { get; init; }
        public required string Source { get; init; }
        public required long Length { get; init; }
        public required long LastWriteUtcTicks { get; init; }
        public required string Tokenizer { get; init; }
        public required int Vocabulary { get; init; }
        public required int Separator { get; init; }
        public ShardEntry? Train { get; init; }
        public ShardEntry? Validation { get; init; }
    }

    /// <summary><c>corpus.json</c>: the finished dataset (what every file became, and the totals).</summary>
    internal sealed record Manifest(
        string Format, string Tokenizer, int Vocabulary, int Separator,
        long TrainDocuments, long ValidationDocuments, long TrainTokens, long ValidationTokens, IReadOnlyList<FileRecord> Files);
}
