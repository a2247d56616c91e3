using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using SharpSeek.Formats;
using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.PreTokenization;
using SharpSeek.Tokenizer.Training;
using SharpSeek.Training.Data;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek train-tokenizer --data FILE|DIR --vocab N --out tokenizer.json|DIR</c>: learns a byte-level BPE
/// vocabulary (<see cref="ByteLevelBpeTrainer"/>: DeepSeek's special tokens first, then the 256 bytes, then merges) from
/// the same documents <c>train --data</c> reads (<see cref="CorpusFiles"/>, <see cref="CorpusDocuments"/>), and writes
/// <c>tokenizer.json</c> and <c>tokenizer_config.json</c> atomically: at the path given when it ends in .json (the config
/// beside it, where readers look for it), otherwise into the folder given. The result is read back before the command
/// reports success.
/// </summary>
internal static class TrainTokenizerCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "a UTF-8 text file or a folder of them (as train --data: .txt .text .md .markdown paragraphs, .jsonl \"text\" fields)", Required = true };
        var vocab = new Option<int>("--vocab") { Description = "vocabulary size: special tokens + 256 bytes + merges", DefaultValueFactory = _ => 4096 };
        var output = new Option<string>("--out", "-o") { Description = "tokenizer.json to write (tokenizer_config.json goes beside it), or a folder for both", Required = true };
        var pre = new Option<string>("--pre-tokenizer") { Description = "how text is split before BPE: deepseek-v3, deepseek-llm, qwen2, llama3 or gpt2", DefaultValueFactory = _ => "deepseek-v3" };
        var minFrequency = new Option<int>("--min-frequency") { Description = "pairs seen fewer times are not merged (training may stop below --vocab)", DefaultValueFactory = _ => 2 };
        var plain = new Option<bool>("--plain") { Description = "plain progress lines even on a terminal" };
        var command = new Command("train-tokenizer", "Train a byte-level BPE tokenizer (tokenizer.json) on text files, for train --tokenizer")
        {
            data, vocab, output, pre, minFrequency, plain,
        };
        command.SetAction(parse =>
        {
            try
            {
                return Execute(parse.GetValue(data)!, parse.GetValue(vocab), parse.GetValue(output)!, parse.GetValue(pre)!, parse.GetValue(minFrequency),
                    parse.GetValue(plain) || Console.IsOutputRedirected || Environment.GetEnvironmentVariable("CI") is not null);
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or NotSupportedException or TokenizerFileException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return 1;
            }
        });
        return command;
    }

    private static int Execute(string data, int vocab, string output, string preName, int minFrequency, bool plain)
    {
        var specials = BpeTrainerOptions.DeepSeekSpecialTokens;
        int minimum = specials.Count + 256;
        if (vocab < minimum) throw new ArgumentException($"--vocab {vocab} is too small: the vocabulary holds {specials.Count} special tokens and 256 byte tokens, so at least {minimum}");
        if (minFrequency < 1) throw new ArgumentException("--min-frequency must be at least 1");
        PreTokenizer preTokenizer;
        try
        {
            preTokenizer = PreTokenizer.FromGgufName(preName);
        }
        catch (NotSupportedException)
        {
            throw new ArgumentException($"--pre-tokenizer must be deepseek-v3, deepseek-llm, qwen2, llama3 or gpt2, not '{preName}'");
        }
        string full = Path.GetFullPath(output);
        bool toFile = full.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        string jsonPath = toFile ? full : Path.Combine(full, TrainingData.TokenizerFile);
        string configPath = Path.Combine(Path.GetDirectoryName(jsonPath)!, TrainingData.TokenizerConfigFile);
        if (toFile && Path.GetFileName(full).Equals(TrainingData.TokenizerConfigFile, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"--out {output}: that is the name of the config written beside the tokenizer; name the tokenizer file (e.g. tokenizer.json) or a folder");

        var listing = TrainingData.ListCorpus(data, runDir: null, shardsAllowed: false);
        var clock = Stopwatch.StartNew();
        var trainer = new ByteLevelBpeTrainer(new BpeTrainerOptions { VocabularySize = vocab, PreTokenizer = preTokenizer, MinPairFrequency = minFrequency });
        long documents = 0, characters = 0;
        long bytes = listing.Files.Sum(f => f.Length);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"counting words in {data} ({listing.Files.Count} file(s), {bytes / 1e6:F1} MB)"));
        TrainingData.WithProgress("reading", plain, listing.Files.Count, bytes, progress =>
        {
            long done = 0;
            for (int i = 0; i < listing.Files.Count; i++)
            {
                foreach (string document in CorpusDocuments.Read(listing.Files[i]))
                {
                    trainer.AddText(document);
                    documents++;
                    characters += document.Length;
                }
                done += listing.Files[i].Length;
                progress(new CorpusProgress(i + 1, listing.Files.Count, done, bytes, 0));
            }
        });
        if (documents == 0) throw new InvalidDataException($"--data {data}: the corpus holds no text (its {listing.Files.Count} file(s) are empty or blank)");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{documents:N0} documents, {characters:N0} characters, {trainer.DistinctWords:N0} distinct words; learning merges up to {vocab} tokens"));
        var vocabulary = trainer.Train();

        Directory.CreateDirectory(Path.GetDirectoryName(jsonPath)!);
        AtomicFile.WriteAllBytes(configPath, vocabulary.TokenizerConfigJson());
        AtomicFile.WriteAllBytes(jsonPath, vocabulary.TokenizerJson());
        var check = ByteLevelBpeTokenizer.FromFile(jsonPath); // what train --tokenizer will read
        if (check.VocabularySize != vocabulary.Tokens.Count)
            throw new InvalidDataException($"{jsonPath} reads back with {check.VocabularySize} tokens, not {vocabulary.Tokens.Count}");
        if (vocabulary.Tokens.Count < vocab)
            Console.WriteLine($"note: {vocabulary.Tokens.Count} tokens, fewer than --vocab {vocab}: no other pair occurs {minFrequency}+ times in this corpus");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {jsonPath} ({vocabulary.Tokens.Count} tokens: {specials.Count} special, 256 bytes, {vocabulary.Merges.Count} merges) and {configPath} in {clock.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }
}
