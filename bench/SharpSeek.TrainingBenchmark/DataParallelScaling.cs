using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

/// <summary>
/// Data parallelism on one box, side by side: the f32 speed benchmark as 1 process × 1 thread (the baseline), as 1 process
/// × 2 threads (what the cores give without MPI) and as 2 MPI ranks × 1 thread. Each runs as its own process, one after
/// the other, so they never share the cores; then the 2-rank run again with the routed experts spread over the ranks
/// (expert parallelism). Scaling efficiency = tokens/s of 2 ranks ÷ (2 × tokens/s of 1 rank).
/// </summary>
internal static partial class DataParallelScaling
{
    public static void Run(Args opts, string[] args)
    {
        string self = typeof(DataParallelScaling).Assembly.Location;
        var common = new List<string> { "--precision", "f32" };
        foreach (string name in (string[])["steps", "batch", "seq", "warmup", "model"])
            if (opts.Has(name)) common.AddRange([$"--{name}", opts.String(name, "")]);
        if (!common.Contains("--seq")) common.AddRange(["--seq", "128"]);
        // Default 16 sequences per step: each of 2 ranks then runs the 8-sequence micro-batch the one-process benchmark
        // runs, so what differs is the cost of data parallelism itself (at 8 the ranks also lose GEMM efficiency on half-size batches).
        if (!common.Contains("--batch")) common.AddRange(["--batch", "16"]);
        Console.WriteLine($"global batch {common[common.IndexOf("--batch") + 1]} sequences of {common[common.IndexOf("--seq") + 1]}; layouts run one after another");

        var one = Measure("1 process x 1 thread", "dotnet", [self, .. common, "--threads", "1"]);
        var two = Measure("1 process x 2 threads", "dotnet", [self, .. common, "--threads", "2"]);
        var ranks = Measure("2 ranks x 1 thread (mpirun)", "mpirun",
            // Unbound: bound to one core each, a rank's runtime threads (GC, JIT) preempt its compute thread (measured here: 1,063 ms per step bound, 733 ms unbound).
            ["--allow-run-as-root", "--bind-to", "none", "--mca", "btl", "self,vader,tcp", "-np", "2", "dotnet", self, .. common, "--threads", "1"]);

        var experts = Measure("2 ranks x 1 thread, experts spread (--expert-parallel 2)", "mpirun",
            ["--allow-run-as-root", "--bind-to", "none", "--mca", "btl", "self,vader,tcp", "-np", "2", "dotnet", self, .. common, "--threads", "1", "--expert-parallel", "2"]);

        Console.WriteLine();
        Console.WriteLine("| layout | tokens/s | MFU | communication share | vs 1 x 1 |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var m in new[] { one, two, ranks, experts })
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {m.Name} | {m.TokensPerSecond:F0} | {m.Mfu:F1}% | {m.Communication:F1}% | {m.TokensPerSecond / one.TokensPerSecond:F2}x |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"data-parallel scaling efficiency (2 ranks vs 2 x one rank): {ranks.TokensPerSecond / (2 * one.TokensPerSecond) * 100:F1}%; 2 ranks vs 2 threads: {ranks.TokensPerSecond / two.TokensPerSecond:F2}x"));
    }

    private sealed record Measurement(string Name, double TokensPerSecond, double Mfu, double Communication);

    private static Measurement Measure(string name, string program, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        Console.WriteLine($"== {name}: {program} {string.Join(' ', start.ArgumentList)}");
        using var p = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Console.Write(stdout);
        if (p.ExitCode != 0) throw new InvalidOperationException($"{name} failed (exit {p.ExitCode}): {stderr.Result}");
        var m = ResultLine().Match(stdout);
        if (!m.Success) throw new InvalidOperationException($"{name} printed no result line");
        double Number(string group) => double.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
        return new Measurement(name, Number("tps"), Number("mfu"), Number("comm"));
    }

    [GeneratedRegex(@"(?<tps>[0-9.]+) tokens/s .*MFU\s+(?<mfu>[0-9.]+)%\s+comm (?<comm>[0-9.]+)%")]
    private static partial Regex ResultLine();
}
