using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using SharpSeek.Distributed;
using SharpSeek.Formats;
using SharpSeek.Model;
using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;
using SharpSeek.Training;
using SharpSeek.Training.Data;
using Spectre.Console;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// The data side of <c>sharpseek train</c>: turns <c>--data</c> and <c>--tokenizer</c> into the folder of token shards
/// the trainer reads, and fits the model's vocabulary to the tokenizer.
/// <list type="bullet">
/// <item><c>--data DIR</c> holding <c>train_*.tokens</c>: token shards, used as they are.</item>
/// <item><c>--data FILE|DIR</c> of text (<see cref="CorpusFiles"/>: .txt, .text, .md, .markdown as paragraphs, .jsonl
/// as JSON Lines with a "text" field): tokenized into <c>RUN/data</c> by <see cref="CorpusSharder"/> on all compute
/// threads; a rerun reuses every file whose source and tokenizer are unchanged.</item>
/// <item>no <c>--data</c>: the generated corpus (byte-level), or, on <c>--resume</c>, the run's tokenized corpus.</item>
/// </list>
/// <c>--tokenizer</c> (a tokenizer.json or its folder; tokenizer_config.json beside it names BOS) selects a byte-level
/// BPE; without it text is byte-level (<see cref="ByteLevelTokenizer"/>). The tokenizer is copied into the run folder,
/// whence <c>TrainingCheckpoint.Save</c> (src/SharpSeek.Training/Checkpoints/TrainingCheckpoint.cs) copies it into every
/// checkpoint, so <c>generate</c>/<c>chat --model RUN/checkpoint-N</c> find it. A preset model's vocabulary is resized to
/// the tokenizer's; a config.json or a resumed checkpoint must already hold it.
/// <para>
/// Under mpirun every rank tokenizes its part of the files (<see cref="CorpusSharder.ShardPart"/>; the shards are the
/// same whatever the number of parts); rank 0 then checks and seals the set, generates the synthetic corpus, keeps the
/// tokenizer and does all the talking, while the others wait at a barrier.
/// </para>
/// </summary>
internal static class TrainingData
{
    public const string TokenizerFile = "tokenizer.json";
    public const string TokenizerConfigFile = "tokenizer_config.json";

    /// <param name="Model">The --model value (a preset name or a config.json path); only presets are resized.</param>
    /// <param name="Resuming">Whether the run continues a checkpoint (its config and tokenizer are fixed).</param>
    public sealed record Request(string? Data, string? Tokenizer, string OutDir, ModelConfig Config, string Model, bool Resuming, int Threads, bool Plain, ICommunicator World)
    {
        /// <summary>Where this rank's messages go: rank 0 speaks for the job.</summary>
        public TextWriter Out => World.Rank == 0 ? Console.Out : TextWriter.Null;
        public bool Leader => World.Rank == 0;
    }

    /// <summary>The folder of train_*/val_* shards and the model config to train (the vocabulary fitted).</summary>
    public sealed record Prepared(string Directory, ModelConfig Config);

    private sealed record BpeSource(string Path, byte[] Json, byte[]? ConfigJson, ByteLevelBpeTokenizer Tokenizer, int Separator)
    {
        public string Identity
        {
            get
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                hash.AppendData(Json);
                hash.AppendData("\n"u8);
                if (ConfigJson is not null) hash.AppendData(ConfigJson);
                return "bpe-sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
            }
        }
    }

    public static Prepared Prepare(Request r)
    {
        var bpe = ResolveTokenizer(r);
        ITextTokenizer tokenizer = bpe is null
            ? new ByteLevelTokenizer()
            : new DelegateTokenizer(text => Encode(bpe.Tokenizer, text), bpe.Tokenizer.VocabularySize, bpe.Separator);
        var config = FitVocabulary(r, tokenizer, bpe);

        string dir;
        if (r.Data is not null && Directory.Exists(r.Data) && Directory.GetFiles(r.Data, "train_*.tokens").Length > 0)
            dir = r.Data; // token shards made elsewhere (with --tokenizer, the tokenizer they were made with)
        else if (r.Data is not null)
            dir = TokenizeCorpus(r, tokenizer, bpe is null ? "byte-level" : bpe.Identity, bpe is null ? "byte-level tokens" : $"the BPE of {bpe.Path}");
        else
        {
            if (bpe is not null && !r.Resuming)
                throw new ArgumentException("--tokenizer tokenizes the text given with --data: give --data FILE|DIR (text files, or token shards made with that tokenizer)");
            dir = r.Leader ? Generated(r, tokenizer) : Path.Combine(r.OutDir, "data");
            r.World.Barrier();
        }
        if (r.Leader) KeepTokenizerWithRun(r.OutDir, bpe);
        r.World.Barrier();
        return new Prepared(dir, config);
    }

    /// <summary>Plain text through the BPE; text it cannot encode is a data error (the caller names the file).</summary>
    private static int[] Encode(ByteLevelBpeTokenizer tokenizer, string text)
    {
        try
        {
            return tokenizer.Encode(text, addSpecialTokens: false, parseSpecialTokens: false);
        }
        catch (TextNotEncodableException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    /// <summary>
    /// The tokenizer of the run: --tokenizer, or on --resume the copy in the run folder (which --tokenizer, if given,
    /// must equal); null for byte-level.
    /// </summary>
    private static BpeSource? ResolveTokenizer(Request r)
    {
        string? given = null;
        if (r.Tokenizer is not null)
        {
            string full = Path.GetFullPath(r.Tokenizer);
            given = Directory.Exists(full) ? Path.Combine(full, TokenizerFile) : full;
            if (!File.Exists(given)) throw new ArgumentException($"--tokenizer: no tokenizer.json at '{given}'");
        }
        string ours = Path.Combine(r.OutDir, TokenizerFile);
        if (r.Resuming)
        {
            if (File.Exists(ours))
            {
                if (given is not null && !File.ReadAllBytes(given).AsSpan().SequenceEqual(File.ReadAllBytes(ours)))
                    throw new ArgumentException($"--tokenizer {given} is not the tokenizer the run was trained with ({ours}); resume without --tokenizer, or start a new run");
                given = ours;
            }
            else if (given is not null)
                throw new ArgumentException($"the run in {r.OutDir} was trained without a tokenizer; --tokenizer cannot be added when resuming");
        }
        return given is null ? null : Load(given);
    }

    private static BpeSource Load(string jsonPath)
    {
        string configPath = Path.Combine(Path.GetDirectoryName(jsonPath)!, TokenizerConfigFile);
        ByteLevelBpeTokenizer tokenizer;
        try
        {
            tokenizer = ByteLevelBpeTokenizer.FromFile(jsonPath);
        }
        catch (Exception e) when (e is TokenizerFileException or NotSupportedException)
        {
            throw new ArgumentException($"--tokenizer: {e.Message}", e);
        }
        int separator = tokenizer.BosTokenId ?? tokenizer.TokenToId(DeepSeekTokens.BeginOfSentence) ?? tokenizer.EosTokenId
            ?? throw new ArgumentException($"--tokenizer: {jsonPath} has no begin- or end-of-sentence token to separate documents (tokenizer_config.json beside it names them)");
        return new BpeSource(jsonPath, File.ReadAllBytes(jsonPath), File.Exists(configPath) ? File.ReadAllBytes(configPath) : null, tokenizer, separator);
    }

    private static ModelConfig FitVocabulary(Request r, ITextTokenizer tokenizer, BpeSource? bpe)
    {
        int needed = tokenizer.VocabularySize;
        var config = r.Config;
        bool preset = !r.Resuming && TrainingPresets.ByName(r.Model) is not null;
        if (bpe is not null && preset && config.VocabSize != needed)
        {
            r.Out.WriteLine($"model vocabulary {config.VocabSize} → {needed}: preset '{r.Model}' resized to the tokenizer's");
            return config with { VocabSize = needed };
        }
        if (needed > config.VocabSize)
        {
            string model = r.Resuming ? "the checkpoint's" : preset ? $"preset '{r.Model}'" : $"{r.Model}'s";
            throw new ArgumentException(bpe is null
                ? $"byte-level tokens need a vocabulary of {needed}; {model} vocabulary is {config.VocabSize} (give --data as token shards, or a --tokenizer)"
                : $"the tokenizer {bpe.Path} has {needed} tokens but {model} vocabulary is {config.VocabSize}: use a config.json with vocab_size ≥ {needed}, or a preset (resized to fit)");
        }
        return config;
    }

    private static string TokenizeCorpus(Request r, ITextTokenizer tokenizer, string identity, string describe)
    {
        var listing = ListCorpus(r.Data!, r.OutDir, shardsAllowed: true, r.Leader);
        string dir = Path.Combine(r.OutDir, "data");
        var sharder = new CorpusSharder(listing.Files, tokenizer, identity, dir);
        long bytes = listing.Files.Sum(f => f.Length);
        int part = r.World.Rank, parts = r.World.Size;
        string ranks = parts > 1 ? $" × {parts} ranks" : "";
        r.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tokenizing {r.Data} ({listing.Files.Count} file(s), {bytes / 1e6:F1} MB) with {describe} into {dir} on {r.Threads} thread(s){ranks}"));
        CorpusPartReport report = null!;
        if (r.Leader)
            WithProgress(parts > 1 ? "tokenizing (rank 0's part)" : "tokenizing", r.Plain, listing.Files.Count, bytes,
                progress => report = sharder.ShardPart(part, parts, r.Threads, progress));
        else report = sharder.ShardPart(part, parts, r.Threads);
        // Every part done before one rank checks and seals the whole set.
        long[] counts = [report.Reused, report.Tokenized];
        r.World.AllReduceSum(counts);
        if (r.Leader)
        {
            var s = sharder.Finish();
            r.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"data: {s.Files} file(s) ({counts[0]} reused, {counts[1]} tokenized); training {s.TrainDocuments:N0} documents, {s.TrainTokens:N0} tokens; validation {s.ValidationDocuments:N0} documents, {s.ValidationTokens:N0} tokens"));
        }
        r.World.Barrier();
        return dir;
    }

    /// <summary>The corpus files under --data (the run folder left out), with a warning line per skipped entry.</summary>
    public static CorpusListing ListCorpus(string data, string? runDir, bool shardsAllowed, bool warn = true)
    {
        CorpusListing listing;
        try
        {
            listing = CorpusFiles.Find(data, runDir);
        }
        catch (FileNotFoundException)
        {
            throw new ArgumentException($"--data: no file or folder at '{Path.GetFullPath(data)}'");
        }
        if (warn) foreach (string skipped in listing.Skipped) Console.Error.WriteLine("warning: skipping " + skipped);
        if (listing.Files.Count == 0)
            throw new ArgumentException($"--data {data}: no text files ({string.Join(", ", CorpusFiles.TextExtensions)}){(shardsAllowed ? " and no train_*.tokens shards" : "")} in the folder");
        return listing;
    }

    /// <summary>
    /// Runs <paramref name="work"/>, which reports per file: a progress bar on a terminal, otherwise a plain line at every
    /// tenth of the files and at the end.
    /// </summary>
    public static void WithProgress(string label, bool plain, int files, long bytes, Action<Action<CorpusProgress>> work)
    {
        var clock = Stopwatch.StartNew();
        if (plain)
        {
            int every = Math.Max(1, (files + 9) / 10);
            work(p =>
            {
                if (p.FilesDone % every != 0 && p.FilesDone != p.FilesTotal) return;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{label} {p.FilesDone}/{p.FilesTotal} files, {p.BytesDone / 1e6:F1}/{p.BytesTotal / 1e6:F1} MB, {p.FilesReused} reused, {clock.Elapsed.TotalSeconds:F1} s"));
            });
            return;
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask(Markup.Escape($"{label} 0/{files} files"), maxValue: Math.Max(1, bytes));
                work(p =>
                {
                    task.Value = p.BytesDone;
                    task.Description = Markup.Escape($"{label} {p.FilesDone}/{p.FilesTotal} files ({p.FilesReused} reused)");
                });
                task.Value = task.MaxValue;
            });
    }

    /// <summary>
    /// No --data: on --resume the run's tokenized corpus (data/corpus.json) as it is; otherwise the generated corpus,
    /// byte-level (kept across runs in the same folder).
    /// </summary>
    private static string Generated(Request r, ITextTokenizer tokenizer)
    {
        string dir = Path.Combine(r.OutDir, "data");
        bool corpus = File.Exists(Path.Combine(dir, CorpusSharder.ManifestFile));
        if (corpus && r.Resuming)
        {
            Console.WriteLine($"reusing the run's tokenized corpus in {dir}");
            return dir;
        }
        if (corpus) Directory.Delete(dir, recursive: true); // a text corpus of an earlier run: not the generated one
        if (Directory.Exists(dir) && Directory.GetFiles(dir, "train_*.tokens").Length > 0) return dir; // a resumed run reuses its shards
        Console.WriteLine($"generating the synthetic corpus into {dir}");
        TokenShard.Write(SyntheticCorpus.Documents(seed: 1, count: 20_000), tokenizer, dir, "train");
        TokenShard.Write(SyntheticCorpus.Documents(seed: 2, count: 200), tokenizer, dir, "val");
        return dir;
    }

    /// <summary>The run folder holds the run's tokenizer (copied into each checkpoint), or none for byte-level runs.</summary>
    private static void KeepTokenizerWithRun(string outDir, BpeSource? bpe)
    {
        string json = Path.Combine(outDir, TokenizerFile), config = Path.Combine(outDir, TokenizerConfigFile);
        if (bpe is null)
        {
            File.Delete(json);
            File.Delete(config);
            return;
        }
        if (Path.GetFullPath(bpe.Path) == Path.GetFullPath(json)) return;
        AtomicFile.WriteAllBytes(json, bpe.Json);
        if (bpe.ConfigJson is not null) AtomicFile.WriteAllBytes(config, bpe.ConfigJson);
        else File.Delete(config);
    }
}
