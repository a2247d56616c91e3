using System.Globalization;
using System.Text.Json;
using SharpSeek.Checkpoints;
using SharpSeek.Model;

namespace SharpSeek.Cli.Tests;

/// <summary>
/// The model commands end to end, as a user runs them: <c>make-model</c> writes a random-weight file, <c>logits</c>,
/// <c>generate</c> and <c>perplexity</c> read it, <c>convert</c> turns it into the other format. Expected values come
/// from the libraries in-process, so a CLI that mis-parses, mis-prints or loads the wrong thing fails.
/// </summary>
public sealed class ModelCommandTests : IClassFixture<ModelCommandTests.TinyModelFile>
{
    private readonly TinyModelFile _model;

    public ModelCommandTests(TinyModelFile model) => _model = model;

    /// <summary>One tiny DeepSeek-V3-shaped GGUF shared by the tests (writing it is the slow part).</summary>
    public sealed class TinyModelFile : IDisposable
    {
        public TempDirectory Dir { get; } = new();
        public string Gguf { get; }

        public TinyModelFile()
        {
            Gguf = Dir.File("tiny-v3-f32.gguf");
            CliProcess.Ok("make-model", "--config", "tiny-deepseek-v3", "--dtype", "F32", "--out", Gguf, "--seed", "5", "--vocab", "512");
        }

        public void Dispose() => Dir.Dispose();
    }

    private static readonly int[] Tokens = [1, 5, 9, 200, 17, 3, 42, 8];

    private static float[][] InProcessLogits(string path, int[] tokens)
    {
        using var checkpoint = Checkpoint.Open(path);
        using var model = checkpoint.CreateModel(new ModelOptions());
        int v = model.Config.VocabSize;
        using var session = model.CreateSession(tokens.Length, maxBatch: tokens.Length);
        var logits = new float[tokens.Length * v];
        session.Forward(tokens, logits, LogitsFor.AllPositions);
        return Enumerable.Range(0, tokens.Length).Select(p => logits.AsSpan(p * v, v).ToArray()).ToArray();
    }

    private static float[][] CliLogits(string? path, int[] tokens)
    {
        var r = path is null
            ? CliProcess.Ok("logits", "--tokens", string.Join(",", tokens))
            : CliProcess.Ok("logits", "--model", path, "--tokens", string.Join(",", tokens));
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("logits").EnumerateArray()
            .Select(row => row.EnumerateArray().Select(x => x.GetSingle()).ToArray()).ToArray();
    }

    [Fact]
    public void LogitsPrintsOneRowOfRawLogitsPerPosition()
    {
        var expected = InProcessLogits(_model.Gguf, Tokens);
        var printed = CliLogits(_model.Gguf, Tokens);
        Assert.Equal(Tokens.Length, printed.Length);
        for (int p = 0; p < Tokens.Length; p++) Assert.Equal(expected[p], printed[p]); // "R" round-trips every float exactly
    }

    [Fact]
    public void GreedyGenerateFollowsTheArgmaxOfTheLogits()
    {
        var r = CliProcess.Ok("generate", "--model", _model.Gguf, "--prompt-tokens", "1,5,9", "-n", "6", "--temperature", "0", "--ignore-eos", "--print-ids");
        int[] generated = r.Stdout.Trim().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(6, generated.Length);
        Assert.Contains("tokens/s", r.Stderr);
        // Teacher-force the prompt + generated tokens: each generated token is the argmax after its prefix.
        int[] all = [1, 5, 9, .. generated];
        var logits = InProcessLogits(_model.Gguf, all);
        for (int i = 0; i < generated.Length; i++)
        {
            var row = logits[2 + i];
            Assert.Equal(Array.IndexOf(row, row.Max()), generated[i]);
        }
    }

    [Fact]
    public void PerplexityIsTheExponentOfTheMeanNegativeLogLikelihood()
    {
        string file = _model.Dir.File("tokens.txt");
        File.WriteAllText(file, string.Join(", ", Tokens));
        var r = CliProcess.Ok("perplexity", "--model", _model.Gguf, "--tokens", file, "--context", "64");
        string number = r.Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        double printed = double.Parse(number, CultureInfo.InvariantCulture);

        var logits = InProcessLogits(_model.Gguf, Tokens);
        double nll = 0;
        for (int p = 0; p + 1 < Tokens.Length; p++)
        {
            double max = logits[p].Max(), sum = logits[p].Sum(x => Math.Exp(x - max));
            nll += Math.Log(sum) + max - logits[p][Tokens[p + 1]];
        }
        Assert.Equal(Math.Exp(nll / (Tokens.Length - 1)), printed, 1e-4);
    }

    [Fact]
    public void ConvertToSafetensorsAndBackKeepsTheLogits()
    {
        string hf = _model.Dir.File("hf"), back = _model.Dir.File("back.gguf");
        CliProcess.Ok("convert", "--input", _model.Gguf, "--output", hf, "--type", "F32");
        Assert.True(File.Exists(Path.Combine(hf, "config.json")));
        CliProcess.Ok("convert", "--input", hf, "--output", back, "--type", "F32");
        var original = InProcessLogits(_model.Gguf, Tokens);
        var viaHf = CliLogits(hf, Tokens);
        var roundTrip = CliLogits(back, Tokens);
        for (int p = 0; p < Tokens.Length; p++)
        {
            Assert.Equal(original[p], viaHf[p]);
            Assert.Equal(original[p], roundTrip[p]);
        }
    }

    [Fact]
    public void WithoutModelTheBundledModelIsUsed()
    {
        // The bundled model ships in the repository; the CLI finds it walking up from its own folder.
        string? repo = AppContext.BaseDirectory;
        while (repo is not null && !File.Exists(Path.Combine(repo, "SharpSeek.slnx"))) repo = Path.GetDirectoryName(repo);
        Assert.NotNull(repo);
        string bundled = Path.Combine(repo!, "models", "sharpseek-r1-tiny");
        Assert.True(File.Exists(Path.Combine(bundled, "config.json")), $"bundled model missing at {bundled}");
        int[] tokens = [3, 17, 42];
        Assert.Equal(InProcessLogits(bundled, tokens), CliLogits(null, tokens));
    }

    [Theory]
    [InlineData("--tokens", "1,x,3", "'x'")]
    [InlineData("--tokens", "1,99999999,3", "99999999")]
    public void BadTokensFailWithAMessageNamingThem(string option, string value, string named)
    {
        var r = CliProcess.Run("logits", "--model", _model.Gguf, option, value);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(named, r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr); // a message, not a stack trace
    }

    [Fact]
    public void TruncatedModelFileFailsWithAMessageNamingTheFile()
    {
        string cut = _model.Dir.File("cut.gguf");
        var bytes = File.ReadAllBytes(_model.Gguf);
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        var r = CliProcess.Run("logits", "--model", cut, "--tokens", "1,2");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("cut.gguf", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }
}
