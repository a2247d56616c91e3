using System.Diagnostics;
using System.Text.Json.Nodes;
using SharpSeek.Distributed;
using SharpSeek.Reasoning.Recipe;
using SharpSeek.Reasoning.Training;
using SharpSeek.Tests.Mpi;
using SharpSeek.Training;
using Xunit.Abstractions;

namespace SharpSeek.Reasoning.Tests;

/// <summary>
/// The R1 recipe under <c>mpirun -np 2</c> against one process: the same gradients for masked SFT and GRPO batches
/// whose rows carry very different numbers of trained tokens, the same metrics for a whole recipe run in which GRPO
/// has signal, and <c>sharpseek r1 recipe</c> as a job (rank 0 alone prints and writes; a failing rank ends it).
/// </summary>
public class DataParallelTests(ITestOutputHelper output)
{
    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "sharpseek.dll");
    private static readonly string Program = typeof(RankProgram).Assembly.Location;

    /// <summary>
    /// The factors that make a rank's share of a masked batch count as its part of the whole batch's mean: shares
    /// that hold more trained tokens weigh more, and over the ranks the factors add up to N for every term.
    /// </summary>
    [Fact]
    public void Shares_weigh_each_rank_by_its_trained_tokens()
    {
        var batch = RankProgram.SupervisedBatches()[0]; // rows train 15, 14, 12, 1, 2, 3 of 15 targets
        var a = ObjectiveShares.For(batch, 0, 3, 2, 1);
        var b = ObjectiveShares.For(batch, 3, 3, 2, 1);
        Assert.Equal(2.0 * 41 / 47, a.Main, 12);
        Assert.Equal(2.0 * 6 / 47, b.Main, 12);
        Assert.Equal(2, a.Main + b.Main, 12);
        Assert.Equal(2, a.Mtp[0] + b.Mtp[0], 12);
        Assert.Equal(1, a.Balance, 12);

        var uneven = RankProgram.SupervisedBatches()[1]; // 3 rows: one rank 1, the other 2
        Assert.Equal((0, 1), RankShare.Of(3, 0, 2));
        Assert.Equal((1, 2), RankShare.Of(3, 1, 2));
        Assert.Equal(2.0 / 3, ObjectiveShares.For(uneven, 0, 1, 2, 1).Balance, 12);
        Assert.Equal(4.0 / 3, ObjectiveShares.For(uneven, 1, 2, 2, 1).Balance, 12);
        Assert.Equal((0, 0), RankShare.Of(0, 2, 3));
    }

    /// <summary>
    /// Whole-model gradients of a masked SFT step (micro-batches of 6 rows split 3 + 3 with 41 against 6 trained tokens,
    /// 3 rows split 1 + 2, 1 row that rank 0 has no part of) and of GRPO steps with token and sequence normalisation (5
    /// responses split 2 + 3; 1 response): two ranks against one process. Averaging the ranks' own means instead
    /// would be off by about the size of the gradients themselves.
    /// </summary>
    [Fact]
    public async Task Two_ranks_compute_the_one_process_gradients_of_masked_sft_and_grpo()
    {
        using var dir = new TempDirectory();
        string file = Path.Combine(dir.Path, "gradients.bin");
        await RunAsync(2, Program, ["gradients", file]);
        var spread = RankProgram.Read(file);
        var expected = RankProgram.Gradients(SingleProcess.Instance);
        Assert.Equal(expected.Keys.Order(), spread.Keys.Order());
        var worst = new Dictionary<string, double>();
        foreach (var (name, values) in expected)
        {
            var actual = spread[name];
            string kind = name[..name.IndexOf('/', StringComparison.Ordinal)];
            if (kind == "loss")
            {
                Assert.True(Math.Abs(values[0] - actual[0]) <= 1e-5 * Math.Max(Math.Abs(values[0]), 1e-2), $"{name}: {values[0]} vs {actual[0]}");
                continue;
            }
            // f32 sums in another order: far below 1e-4 of the tensor's largest gradient.
            double scale = Math.Max(values.Max(Math.Abs), 1e-6);
            double difference = values.Zip(actual, (x, y) => Math.Abs(x - y)).Max() / scale;
            Assert.True(difference <= 1e-4, $"{name}: gradients differ by {difference:G3} of the largest");
            worst[kind] = Math.Max(worst.GetValueOrDefault(kind), difference);
        }
        foreach (string kind in (string[])["sft", "grpo-token", "grpo-sequence", "grpo-lone"])
        {
            Assert.Contains(expected, e => e.Key.StartsWith(kind + "/", StringComparison.Ordinal) && e.Value.Any(x => x != 0));
            output.WriteLine($"{kind}: worst gradient difference {worst[kind]:G3} of the tensor's largest; loss {expected["loss/" + kind][0]} vs {spread["loss/" + kind][0]}");
        }
    }

    /// <summary>
    /// A recipe run where GRPO learns something (informative groups, updates, clipping, KL): two ranks log the one-process
    /// pretraining and SFT losses within 1e-4 and the same GRPO rollouts, rewards and objective, and the same eval.
    /// </summary>
    [Fact]
    public async Task Two_ranks_reproduce_the_one_process_recipe_where_grpo_has_signal()
    {
        using var dir = new TempDirectory();
        string one = Path.Combine(dir.Path, "one"), two = Path.Combine(dir.Path, "two");
        var clock = Stopwatch.StartNew();
        new R1Recipe(RankProgram.SignalSettings()).Run(one);
        output.WriteLine($"one process: {clock.Elapsed.TotalSeconds:F1} s");
        await RunAsync(2, Program, ["recipe", two]);

        var a = Metrics(one);
        var b = Metrics(two);
        var grpo = a.Where(m => Stage(m) == "grpo").ToList();
        Assert.Equal(RankProgram.SignalSettings().GrpoSteps, grpo.Count);
        // The comparison means something only if GRPO updated the policy: informative groups, a loss, clipping.
        Assert.True(grpo.Count(m => m["informative_groups"]!.GetValue<double>() > 0) >= 3, "GRPO had too little signal for the comparison to mean anything");
        Assert.Contains(grpo, m => m["clip_fraction"]!.GetValue<double>() > 0);
        CompareMetrics(a, b);
        Assert.Equal(File.ReadAllText(Path.Combine(one, "eval.md")), File.ReadAllText(Path.Combine(two, "eval.md")));
        output.WriteLine(string.Join('\n', b.Where(m => Stage(m) == "grpo").Select(m => m.ToJsonString())));
    }

    /// <summary>
    /// <c>sharpseek r1 recipe --ci</c> under mpirun -np 2 runs every stage (distillation included), prints once and
    /// matches the one-process run; then a job whose rank 1 cannot read the SFT checkpoint rank 0 found ends at once
    /// with that rank's message instead of leaving rank 0 waiting in a collective.
    /// </summary>
    [Fact]
    public async Task Sharpseek_r1_runs_under_mpirun_and_a_failing_rank_ends_the_job()
    {
        using var dir = new TempDirectory();
        string one = Path.Combine(dir.Path, "one"), two = Path.Combine(dir.Path, "two"), checkpoint = Path.Combine(dir.Path, "sft.safetensors");
        string[] Recipe(string outDir) => ["r1", "recipe", "--ci", "--threads", "1", "--plain", "--out", outDir];
        string single = await RunAsync(1, Cli, [.. Recipe(one), "--sft-checkpoint", checkpoint]);
        string job = await RunAsync(2, Cli, Recipe(two));
        Assert.Contains("data parallel over 2 ranks", job, StringComparison.Ordinal);
        Assert.Equal(1, Count(single, "distillation: "));
        Assert.Equal(1, Count(job, "distillation: ")); // rank 1 is quiet
        foreach (string file in new[] { "model.safetensors", "tokenizer.json", "eval.md", "metrics.jsonl", "recipe.json", "curves-grpo.png" })
            Assert.True(File.Exists(Path.Combine(two, file)), file);
        Assert.Equal(2, JsonNode.Parse(File.ReadAllText(Path.Combine(two, "recipe.json")))!["ranks"]!.GetValue<int>());
        CompareMetrics(Metrics(one), Metrics(two));
        Assert.Equal(File.ReadAllText(Path.Combine(one, "eval.md")), File.ReadAllText(Path.Combine(two, "eval.md")));

        // Rank 0 finds the checkpoint, rank 1 (another node, say) does not: rank 1 fails to load it while rank 0 goes on.
        Assert.True(File.Exists(checkpoint));
        var start = MpiJob.StartInfo(1, "dotnet", [Cli, .. Recipe(Path.Combine(dir.Path, "failed")), "--sft-checkpoint", checkpoint,
            ":", "-np", "1", "dotnet", Cli, .. Recipe(Path.Combine(dir.Path, "failed")), "--sft-checkpoint", Path.Combine(dir.Path, "missing", "sft.safetensors")]);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), "the job still runs a minute after rank 1 failed");
        string text = await stdout + await stderr;
        output.WriteLine($"[failing job, {clock.Elapsed.TotalSeconds:F1} s, exit code {process.ExitCode}]\n{text}");
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("error on rank 1", text, StringComparison.Ordinal);
    }

    /// <summary>
    /// Every logged value of every stage and step: losses within 1e-4 (relative; f32 sums in another order); what
    /// comes from sampled tokens (rewards, accuracy, format, lengths, pass@1) exactly, since the per-request seeds draw
    /// the same tokens from the same distributions on whichever rank.
    /// </summary>
    private void CompareMetrics(List<JsonObject> a, List<JsonObject> b)
    {
        Assert.Equal(a.Select(m => (Stage(m), Step(m))), b.Select(m => (Stage(m), Step(m))));
        double worstLoss = 0;
        for (int i = 0; i < a.Count; i++)
            foreach (var (key, node) in a[i])
            {
                if (key is "stage" or "step") continue;
                double x = node!.GetValue<double>(), y = b[i][key]!.GetValue<double>();
                string what = $"{Stage(a[i])} step {Step(a[i])} {key}: {x} vs {y}";
                if (key is "loss" or "kl" or "clip_fraction")
                {
                    // Logged to 6 decimals, so an absolute floor of 1e-5 for values near 0 (GRPO's loss changes sign).
                    Assert.True(Math.Abs(x - y) <= Math.Max(1e-4 * Math.Abs(x), 1e-5), what);
                    if (key == "loss") worstLoss = Math.Max(worstLoss, Math.Abs(x - y) / Math.Max(Math.Abs(x), 1e-3));
                }
                else Assert.True(x == y, what);
            }
        output.WriteLine($"{a.Count} metric records agree; worst relative loss difference {worstLoss:G3}");
    }

    private static List<JsonObject> Metrics(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    private static string Stage(JsonObject m) => m["stage"]!.GetValue<string>();
    private static long Step(JsonObject m) => m["step"]!.GetValue<long>();
    private static int Count(string text, string what) => text.Split('\n').Count(l => l.StartsWith(what, StringComparison.Ordinal));

    private async Task<string> RunAsync(int ranks, string program, string[] args)
    {
        var job = await MpiJob.RunAsync(ranks, "dotnet", [program, .. args], TimeSpan.FromMinutes(3));
        output.WriteLine($"[{ranks} rank(s), {job.Elapsed.TotalSeconds:F1} s] {Path.GetFileName(program)} {string.Join(' ', args)}");
        Assert.True(job.ExitCode == 0, job.Output);
        return job.Output;
    }

    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("sharpseek-r1-dp-").FullName;

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); }
            catch (IOException) { }
        }
    }
}
