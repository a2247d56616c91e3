using System.Diagnostics;
using System.Text.Json.Nodes;
using SharpSeek.Training.Checkpoints;
using SharpSeek.Training.Data;
using SharpSeek.Training.Logging;
using Xunit.Abstractions;

namespace SharpSeek.Training.Tests;

/// <summary>
/// <c>sharpseek train</c> as a real child process: killed (SIGKILL, no chance to clean up) after a checkpoint, then
/// resumed with <c>--resume</c>; the continued run must match an uninterrupted one bit for bit.
/// </summary>
public class CliTrainTests(ITestOutputHelper output)
{
    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "sharpseek.dll");

    private static string[] Arguments(string outDir, string data) =>
    [
        "train", "--out", outDir, "--data", data, "--model", "tiny", "--steps", "16", "--seq", "32", "--batch", "4", "--accum", "2",
        "--lr", "5e-3", "--warmup", "3", "--checkpoint-every", "4", "--eval-every", "8", "--eval-batches", "2", "--threads", "2",
        "--plain", "--log-every", "1", "--bias-speed", "0.01",
    ];

    private static Process Start(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new InvalidOperationException("could not start the CLI");
    }

    private string RunToEnd(IEnumerable<string> args)
    {
        using var p = Start(args);
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "the CLI did not finish within two minutes");
        output.WriteLine(stdout + stderr);
        Assert.True(p.ExitCode == 0, $"exit code {p.ExitCode}: {stderr}");
        return stdout;
    }

    [Fact]
    public void KilledRunResumesFromItsLastCheckpointBitForBit()
    {
        Assert.True(File.Exists(Cli), $"CLI not built at {Cli}");
        using var dir = new TempDirectory();
        string text = Path.Combine(dir.Path, "corpus.txt");
        File.WriteAllText(text, string.Join("\n\n", SyntheticCorpus.Documents(seed: 3, count: 400)));
        string whole = Path.Combine(dir.Path, "whole"), killed = Path.Combine(dir.Path, "killed");

        RunToEnd(Arguments(whole, text));

        // Kill the second run once step 10 is reported: checkpoint 8 is complete, steps 9–10 are lost work.
        using (var p = Start(Arguments(killed, text)))
        {
            string? line;
            bool sawCheckpoint = false;
            while ((line = p.StandardOutput.ReadLine()) is not null)
            {
                output.WriteLine("[killed run] " + line);
                sawCheckpoint |= line.StartsWith("checkpoint step 8:", StringComparison.Ordinal);
                if (line.StartsWith("step 10/16", StringComparison.Ordinal)) break;
            }
            Assert.True(sawCheckpoint, "the run never reported checkpoint 8");
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        Assert.Equal(Path.Combine(killed, TrainingCheckpoint.DirectoryName(8)), TrainingCheckpoint.Latest(killed));

        string resumed = RunToEnd([.. Arguments(killed, text), "--resume"]);
        Assert.Contains("resuming", resumed);
        Assert.Contains("at step 8", resumed);

        // Same final weights, byte for byte, and the same logged curve (the lost steps 9–10 replaced, not duplicated).
        var final = TrainingCheckpoint.DirectoryName(16);
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, final, TrainingCheckpoint.ModelFile)), File.ReadAllBytes(Path.Combine(killed, final, TrainingCheckpoint.ModelFile)));
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, final, TrainingCheckpoint.OptimizerFile)), File.ReadAllBytes(Path.Combine(killed, final, TrainingCheckpoint.OptimizerFile)));
        var a = Curve(whole);
        var b = Curve(killed);
        Assert.Equal(16, a.Count(l => l.Kind == "step"));
        Assert.Equal(a, b);
        Assert.True(File.Exists(Path.Combine(killed, TrainingLog.ChartFile)));
    }

    /// <summary>The deterministic fields of metrics.jsonl (timings dropped).</summary>
    private static List<(string Kind, long Step, string Values)> Curve(string dir)
    {
        var result = new List<(string, long, string)>();
        foreach (var line in File.ReadAllLines(Path.Combine(dir, TrainingLog.MetricsFile)))
        {
            var o = JsonNode.Parse(line)!.AsObject();
            foreach (var timing in new[] { "seconds", "tokens_per_s", "mfu", "comm_share" }) o.Remove(timing);
            result.Add((o["kind"]!.GetValue<string>(), o["step"]!.GetValue<long>(), o.ToJsonString()));
        }
        return result;
    }
}
