using System.Text.Json;

namespace SharpSeek.Cli.Tests;

/// <summary><c>sharpseek r1 recipe</c>'s study options reach the recipe, <c>r1 report</c> reads its output back, and refused settings end with a message.</summary>
public sealed class R1CommandTests
{
    [Fact]
    public void A_scaled_multi_seed_run_with_grpo_options_is_reported_back()
    {
        using var dir = new TempDirectory();
        string run = dir.File("w64");
        CliProcess.Ok("r1", "recipe", "--ci", "--threads", "1", "--out", run, "--width", "64", "--depth", "2", "--seeds", "2",
            "--grpo-tasks", "Countdown", "Arithmetic", "--grpo-clip-high", "0.28", "--grpo-no-std", "--zero-steps", "0", "--distill-problems", "0",
            "--grpo-room", "0");
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))))
        {
            Assert.Equal(64, config.RootElement.GetProperty("hidden_size").GetInt32());
            Assert.Equal(2, config.RootElement.GetProperty("num_hidden_layers").GetInt32());
        }
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "recipe.json"))))
        {
            Assert.Equal(2, summary.RootElement.GetProperty("seeds").GetInt32());
            // The pass@k evaluation covers GRPO's task families: only the two asked for.
            var scopes = summary.RootElement.GetProperty("grpo_vs_sft_pass_at_max_k").EnumerateArray().Select(c => c.GetProperty("scope").GetString()!).ToList();
            Assert.Contains("Countdown", scopes);
            Assert.Contains("Arithmetic", scopes);
            Assert.DoesNotContain(scopes, s => s.StartsWith("Expression", StringComparison.Ordinal) || s.StartsWith("WordProblem", StringComparison.Ordinal));
        }
        Assert.Contains("\"stage\":\"grpo#2\"", File.ReadAllText(Path.Combine(run, "metrics.jsonl")));
        // --grpo-room 0 admits every candidate cell of the two families, for each seed's GRPO.
        Assert.Contains("grpo#2 trained on the cells with dev pass@4 − pass@1 ≥ 0.00: Countdown D1, Countdown D2, Countdown D3, Arithmetic D1,",
            File.ReadAllText(Path.Combine(run, "eval.md")));

        var report = CliProcess.Ok("r1", "report", run, "--chart", dir.File("scaling.png"));
        Assert.Contains("| w64 |", report.Stdout);
        Assert.True(File.Exists(dir.File("scaling.png")));
    }

    [Theory]
    [InlineData("--seeds", "0", "Seeds must be at least 1")]
    [InlineData("--width", "33", "multiple of 32")]
    [InlineData("--grpo-clip-high", "0.1", "ε_high")]
    [InlineData("--grpo-room", "1.5", "room margin")]
    [InlineData("--grpo-kl", "-1", "β must be non-negative")]
    [InlineData("--grpo-room-mix", "2", "share of GRPO prompts")]
    public void Refused_settings_end_with_a_message_before_any_work(string option, string value, string message)
    {
        using var dir = new TempDirectory();
        string run = dir.File("bad");
        var r = CliProcess.Run("r1", "recipe", "--ci", "--out", run, option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr); // a message, not a stack trace
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void Report_on_a_folder_without_a_finished_run_says_so()
    {
        using var dir = new TempDirectory();
        var r = CliProcess.Run("r1", "report", dir.Path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no recipe.json", r.Stderr);
    }
}
