using System.Text.Json.Nodes;

namespace SharpSeek.Cli.Tests;

/// <summary>
/// Pre-training on one's own text with a real BPE vocabulary, through the CLI as a user runs it: <c>train-tokenizer</c>
/// on a folder, <c>train --data folder --tokenizer</c> (the preset's vocabulary resized, the checkpoint carrying the
/// tokenizer, <c>generate</c> finding it), a resume that reuses the shards; and bad input ending in one error line.
/// </summary>
public sealed class TrainOnTextTests
{
    private static readonly string Root = FindRoot();

    /// <summary>Four files of made-up words (a fixed seed), paragraphs separated by blank lines, one in a subfolder.</summary>
    private static string MakeCorpus(string root)
    {
        string corpus = Path.Combine(root, "corpus");
        Directory.CreateDirectory(Path.Combine(corpus, "more"));
        var random = new Random(5);
        var words = Enumerable.Range(0, 150).Select(_ => new string(Enumerable.Range(0, random.Next(2, 9)).Select(_ => (char)('a' + random.Next(0, 12))).ToArray())).ToArray();
        string[] names = ["a.txt", "b.md", "more/c.txt", "more/d.txt"];
        foreach (string name in names)
        {
            var paragraphs = Enumerable.Range(0, 40).Select(_ => string.Join(' ', Enumerable.Range(0, random.Next(10, 40)).Select(_ => words[random.Next(words.Length)])) + ".");
            File.WriteAllText(Path.Combine(corpus, name), string.Join("\n\n", paragraphs));
        }
        return corpus;
    }

    /// <summary>A short <c>train</c> run (tiny, 3 steps unless <paramref name="more"/> says otherwise).</summary>
    private static string[] Train(string corpus, string run, params string[] more) =>
    [
        "train", "--data", corpus, "--out", run, "--seq", "32", "--batch", "2", "--eval-every", "0", "--checkpoint-every", "0", "--threads", "2", "--plain",
        .. more.Contains("--model") ? [] : new[] { "--model", "tiny" }, .. more.Contains("--steps") ? [] : new[] { "--steps", "3" }, .. more,
    ];

    [Fact]
    public void A_tokenizer_trained_on_a_folder_trains_a_model_whose_checkpoint_carries_it()
    {
        using var dir = new TempDirectory();
        string corpus = MakeCorpus(dir.Path);
        string tokenizer = dir.File("tok/tokenizer.json");
        var trained = CliProcess.Ok("train-tokenizer", "--data", corpus, "--vocab", "400", "--out", tokenizer, "--plain");
        Assert.Contains("wrote " + tokenizer, trained.Stdout);
        Assert.True(File.Exists(dir.File("tok/tokenizer_config.json")));
        int vocabulary = JsonNode.Parse(File.ReadAllText(tokenizer))!["model"]!["vocab"]!.AsObject().Count;
        Assert.InRange(vocabulary, 16 + 256 + 1, 400);

        string run = dir.File("run");
        var training = CliProcess.Ok(Train(corpus, run, "--tokenizer", tokenizer));
        Assert.Contains($"model vocabulary 257 → {vocabulary}", training.Stdout);
        Assert.Contains("data: 4 file(s) (0 reused, 4 tokenized)", training.Stdout);
        var losses = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!)
            .Where(o => (string)o["kind"]! == "step").Select(o => (double)o["loss"]!).ToArray();
        Assert.Equal(3, losses.Length);
        Assert.All(losses, l => Assert.True(double.IsFinite(l) && l > 0, $"loss {l}"));

        string checkpoint = Path.Combine(run, "checkpoint-000003");
        Assert.Equal(vocabulary, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(checkpoint, "config.json")))!["vocab_size"]!);
        Assert.Equal(File.ReadAllBytes(tokenizer), File.ReadAllBytes(Path.Combine(checkpoint, "tokenizer.json")));
        Assert.Equal(File.ReadAllBytes(dir.File("tok/tokenizer_config.json")), File.ReadAllBytes(Path.Combine(checkpoint, "tokenizer_config.json")));

        // Inference finds the tokenizer beside the weights.
        CliProcess.Ok("generate", "--model", checkpoint, "--prompt", "abc", "-n", "2", "--temperature", "0", "--threads", "1");

        // Resuming with another tokenizer is refused; without --tokenizer it uses the run's and reuses every shard.
        CliProcess.Ok("train-tokenizer", "--data", corpus, "--vocab", "300", "--out", dir.File("other"), "--plain");
        AssertOneError(CliProcess.Run(Train(corpus, run, "--resume", "--steps", "4", "--tokenizer", dir.File("other"))), "not the tokenizer the run was trained with");
        var resumed = CliProcess.Ok(Train(corpus, run, "--resume", "--steps", "4"));
        Assert.Contains("data: 4 file(s) (4 reused, 0 tokenized)", resumed.Stdout);
        Assert.Contains("resuming", resumed.Stdout);
        Assert.True(File.Exists(Path.Combine(run, "checkpoint-000004", "tokenizer.json")));
    }

    [Fact]
    public void Bad_input_is_one_error_line_and_a_failure_exit_code()
    {
        using var dir = new TempDirectory();
        string corpus = MakeCorpus(dir.Path);
        Directory.CreateDirectory(dir.File("empty"));
        Directory.CreateDirectory(dir.File("blank"));
        File.WriteAllText(dir.File("blank/a.txt"), "\n \n\n");
        File.WriteAllBytes(dir.File("data.bin"), [1, 0, 2, 0]);
        string bundledTokenizer = Path.Combine(Root, "models", "sharpseek-r1-tiny", "tokenizer.json");
        string smallConfig = dir.File("config.json");
        File.WriteAllText(smallConfig, File.ReadAllText(Path.Combine(Root, "models", "sharpseek-r1-tiny", "config.json")).Replace("\"vocab_size\": 438", "\"vocab_size\": 257", StringComparison.Ordinal));
        string run = dir.File("run");

        AssertOneError(CliProcess.Run(Train(dir.File("missing"), run)), "no file or folder");
        AssertOneError(CliProcess.Run(Train(corpus, run, "--tokenizer", dir.File("missing.json"))), "no tokenizer.json");
        AssertOneError(CliProcess.Run("train", "--out", run, "--tokenizer", bundledTokenizer, "--steps", "1"), "give --data");
        AssertOneError(CliProcess.Run(Train(corpus, run, "--tokenizer", bundledTokenizer, "--model", smallConfig)), "vocabulary is 257");
        AssertOneError(CliProcess.Run(Train(dir.File("empty"), run)), "no text files");
        AssertOneError(CliProcess.Run(Train(dir.File("blank"), run)), "no document to train on");
        AssertOneError(CliProcess.Run(Train(dir.File("data.bin"), run)), "binary data");
        AssertOneError(CliProcess.Run(Train(corpus, run, "--expert-parallel", "2")), "start with mpirun -np 2");

        AssertOneError(CliProcess.Run("train-tokenizer", "--data", corpus, "--vocab", "100", "--out", dir.File("t")), "at least 272");
        AssertOneError(CliProcess.Run("train-tokenizer", "--data", dir.File("empty"), "--out", dir.File("t")), "no text files");
        AssertOneError(CliProcess.Run("train-tokenizer", "--data", dir.File("blank"), "--out", dir.File("t")), "holds no text");
        AssertOneError(CliProcess.Run("train-tokenizer", "--data", dir.File("missing"), "--out", dir.File("t")), "no file or folder");
        AssertOneError(CliProcess.Run("train-tokenizer", "--data", corpus, "--pre-tokenizer", "bert", "--out", dir.File("t")), "--pre-tokenizer");
        Assert.False(Directory.Exists(dir.File("t")), "a failed train-tokenizer must not write anything");
    }

    private static void AssertOneError(CliProcess.Result r, string expected)
    {
        Assert.NotEqual(0, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1 && lines[0].StartsWith("error: ", StringComparison.Ordinal), $"expected one error line, got:\n{r.Stderr}");
        Assert.Contains(expected, lines[0]);
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SharpSeek.slnx"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
