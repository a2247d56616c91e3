using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using SharpSeek.Tests.Mpi;
using SharpSeek.Training.Checkpoints;
using SharpSeek.Training.Logging;
using Xunit.Abstractions;

namespace SharpSeek.Training.Tests;

/// <summary>
/// <c>sharpseek train</c> under <c>mpirun -np 2</c> (data parallel) against the one-process run of the same command:
/// the same loss curve, and a job that loses a rank stops at once and resumes on two ranks or on one.
/// </summary>
public class DataParallelTests(ITestOutputHelper output)
{
    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "sharpseek.dll");
    // Losses are summed in another order over two ranks (and printed to 6 decimals); anything past this is a real difference.
    private const double Tolerance = 1e-4;

    private static string[] Train(string outDir, params string[] extra) =>
        ["train", "--out", outDir, "--model", "tiny", "--seed", "1", "--threads", "1", "--plain", "--log-every", "1", "--eval-every", "0", .. extra];

    [Theory]
    [InlineData("--steps", "20")]
    [InlineData("--steps", "20", "--expert-parallel", "2")]
    // In f32 only: BF16 and FP8 round weights and activations to a coarse grid, so the last-bit differences of another
    // summation order can cross a rounding boundary and grow (docs/scale-out.md gives the measured drift).
    [InlineData("--steps", "12", "--batch", "4", "--accum", "2")]
    public async Task Two_ranks_log_the_losses_of_one_process(params string[] run)
    {
        using var dir = new TempDirectory();
        string one = Path.Combine(dir.Path, "one"), two = Path.Combine(dir.Path, "two");
        // The one-process run is the same command without --expert-parallel (one process has nothing to spread over).
        int ep = Array.IndexOf(run, "--expert-parallel");
        await RunAsync(1, Train(one, ep < 0 ? run : run[..ep]));
        string text = await RunAsync(2, Train(two, run));
        Assert.Contains("on 2 ranks", text, StringComparison.Ordinal);
        if (ep >= 0) Assert.Contains("experts spread over 2", text, StringComparison.Ordinal);

        var a = Steps(one);
        var b = Steps(two);
        Assert.Equal(int.Parse(run[1], CultureInfo.InvariantCulture), a.Count);
        if (ep >= 0) Assert.True(b[^1]["expert_rank_imbalance"]!.GetValue<double>() >= 1, "expert parallelism reports the load imbalance across ranks");
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(1, a[i]["ranks"]!.GetValue<int>());
            Assert.Equal(2, b[i]["ranks"]!.GetValue<int>());
            foreach (string key in (string[])["loss", "loss_main", "loss_balance", "grad_norm"]) Close(a[i], b[i], key);
            Close(a[i]["loss_mtp"]![0]!.GetValue<double>(), b[i]["loss_mtp"]![0]!.GetValue<double>(), $"step {i + 1} loss_mtp");
        }
        output.WriteLine($"step 1 loss {a[0]["loss"]} vs {b[0]["loss"]}; last {a[^1]["loss"]} vs {b[^1]["loss"]}");
    }

    [Fact]
    public async Task A_killed_rank_stops_the_job_and_the_run_resumes_on_two_ranks_or_one()
    {
        using var dir = new TempDirectory();
        string whole = Path.Combine(dir.Path, "whole"), killed = Path.Combine(dir.Path, "killed"), onOne = Path.Combine(dir.Path, "on-one");
        string[] run = ["--steps", "40", "--checkpoint-every", "8"];
        await RunAsync(1, Train(whole, run));

        // Two ranks; once checkpoint 8 is written, SIGKILL one rank (no chance to clean up) while steps 9… run.
        using (var job = Process.Start(MpiJob.StartInfo(2, "dotnet", [Cli, .. Train(killed, run)]))!)
        {
            var stderr = job.StandardError.ReadToEndAsync();
            bool sawCheckpoint = false;
            string? line;
            while ((line = job.StandardOutput.ReadLine()) is not null)
            {
                if (line.StartsWith("checkpoint step 8:", StringComparison.Ordinal)) { sawCheckpoint = true; break; }
            }
            if (!sawCheckpoint) Assert.Fail("the two-rank run never reported checkpoint 8: " + await stderr);
            var ranks = RankProcesses(killed, job.Id);
            Assert.Equal(2, ranks.Count);
            var clock = Stopwatch.StartNew();
            ranks[^1].Kill(); // SIGKILL
            Assert.True(job.WaitForExit(30_000), "the job still runs 30 s after one of its ranks was killed");
            output.WriteLine($"job ended {clock.Elapsed.TotalSeconds:F1} s after the kill, exit code {job.ExitCode}");
            Assert.NotEqual(0, job.ExitCode);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the job took {clock.Elapsed} to stop after a rank died");
            foreach (var p in ranks) p.Dispose();
        }
        Assert.Equal(Path.Combine(killed, TrainingCheckpoint.DirectoryName(8)), TrainingCheckpoint.Latest(killed));
        CopyDirectory(killed, onOne);

        string two = await RunAsync(2, [.. Train(killed, run), "--resume"]);
        Assert.Contains("at step 8", two, StringComparison.Ordinal);
        string one = await RunAsync(1, [.. Train(onOne, run), "--resume"]);
        Assert.Contains("at step 8", one, StringComparison.Ordinal);

        var reference = Steps(whole);
        foreach (var resumed in new[] { Steps(killed), Steps(onOne) })
        {
            Assert.Equal(40, resumed.Count); // steps the killed job logged after step 8 replaced, not duplicated
            for (int i = 8; i < 40; i++) Close(reference[i], resumed[i], "loss");
        }
    }

    /// <summary>
    /// An expert-parallel run's checkpoint holds every expert (each rank allocates only its own; rank 0 gathers the rest
    /// to write): the run resumes on one process, and with its experts spread again, on the one-process loss curve.
    /// </summary>
    [Fact]
    public async Task An_expert_parallel_checkpoint_resumes_on_one_process_or_spread_again()
    {
        using var dir = new TempDirectory();
        string whole = Path.Combine(dir.Path, "whole"), spread = Path.Combine(dir.Path, "spread"), again = Path.Combine(dir.Path, "again");
        await RunAsync(1, Train(whole, "--steps", "16"));
        await RunAsync(2, Train(spread, "--steps", "8", "--expert-parallel", "2"));
        CopyDirectory(spread, again);
        Assert.Contains("at step 8", await RunAsync(1, Train(spread, "--steps", "16", "--resume")), StringComparison.Ordinal);
        Assert.Contains("at step 8", await RunAsync(2, Train(again, "--steps", "16", "--resume", "--expert-parallel", "2")), StringComparison.Ordinal);
        var reference = Steps(whole);
        foreach (var resumed in new[] { Steps(spread), Steps(again) })
        {
            Assert.Equal(16, resumed.Count);
            for (int i = 0; i < 16; i++) Close(reference[i], resumed[i], "loss");
        }
    }

    /// <summary>
    /// The gradient of every parameter of the tiny MoE + MTP model for one batch: experts spread over two ranks (each
    /// rank half the sequences) against one process with the whole batch.
    /// </summary>
    [Fact]
    public async Task Expert_parallel_gradients_equal_the_one_process_gradients()
    {
        using var dir = new TempDirectory();
        string file = Path.Combine(dir.Path, "grads.bin");
        var job = await MpiJob.RunAsync(2, "dotnet", [typeof(RankProgram).Assembly.Location, "ep-gradients", file], TimeSpan.FromMinutes(2));
        Assert.True(job.ExitCode == 0, job.Output);
        // Each rank allocates only its own experts: 4 of 8 per MoE layer (2 layers) × 3 matrices.
        Assert.Contains("rank 0/2 ok, holding 24 expert matrices", job.Output, StringComparison.Ordinal);
        Assert.Contains("rank 1/2 ok, holding 24 expert matrices", job.Output, StringComparison.Ordinal);
        var spread = RankProgram.ReadGradients(file);

        using var pool = new SharpSeek.Tensors.Threading.ComputePool(1);
        using var model = RankProgram.NewModel();
        using var tape = new Autodiff.Tape<float>(pool);
        var r = model.Loss(tape, RankProgram.Batch(), new ObjectiveSettings());
        tape.Backward(r.Loss, 1f);
        int experts = 0;
        foreach (var p in model.Parameters.Where(p => p.Trainable))
        {
            var expected = p.Gradients.ToArray();
            var actual = spread[p.Name];
            // f32 sums in another order (two halves, then the mean): differences are rounding, far below 1e-4 of the
            // tensor's largest gradient; a missing or doubled contribution would be of the order of the gradient itself.
            double scale = Math.Max(expected.Max(Math.Abs), 1e-6);
            double worst = expected.Zip(actual, (x, y) => Math.Abs(x - y)).Max();
            Assert.True(worst <= 1e-4 * scale, $"{p.Name}: gradients differ by {worst:G3} (largest {scale:G3})");
            Assert.True(expected.Any(x => x != 0), $"{p.Name}: no gradient at all, the comparison would prove nothing");
            if (p.Name.Contains(".experts.", StringComparison.Ordinal)) experts++;
        }
        Assert.Equal(model.MoeLayers.Count * model.Config.NRoutedExperts * 3, experts);
    }

    private async Task<string> RunAsync(int ranks, string[] args)
    {
        var job = await MpiJob.RunAsync(ranks, "dotnet", [Cli, .. args], TimeSpan.FromMinutes(3));
        output.WriteLine($"[{ranks} rank(s), {job.Elapsed.TotalSeconds:F1} s] {string.Join(' ', args)}\n{job.Output}");
        Assert.True(job.ExitCode == 0, job.Output);
        return job.Output;
    }

    /// <summary>The rank processes of the job writing to <paramref name="outDir"/>: processes naming it, less mpirun itself.</summary>
    private static List<Process> RankProcesses(string outDir, int mpirun)
    {
        var start = new ProcessStartInfo("pgrep", ["-f", outDir]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var pgrep = Process.Start(start)!;
        var pids = pgrep.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).Where(p => p != mpirun);
        pgrep.WaitForExit();
        return pids.Select(Process.GetProcessById).ToList();
    }

    private static List<JsonObject> Steps(string dir) =>
        File.ReadAllLines(Path.Combine(dir, TrainingLog.MetricsFile)).Select(l => JsonNode.Parse(l)!.AsObject())
            .Where(o => o["kind"]!.GetValue<string>() == "step").ToList();

    private static void Close(JsonObject a, JsonObject b, string key) =>
        Close(a[key]!.GetValue<double>(), b[key]!.GetValue<double>(), $"step {a["step"]} {key}");

    private static void Close(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= Tolerance * Math.Max(Math.Abs(expected), 1e-3), $"{what}: {expected} vs {actual}");

    private static void CopyDirectory(string from, string to)
    {
        foreach (string d in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(d.Replace(from, to, StringComparison.Ordinal));
        Directory.CreateDirectory(to);
        foreach (string f in Directory.GetFiles(from, "*", SearchOption.AllDirectories)) File.Copy(f, f.Replace(from, to, StringComparison.Ordinal));
    }
}
