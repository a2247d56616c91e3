using System.Globalization;
using System.Text.Json.Serialization;
using SharpSeek.Benchmarks;
using SharpSeek.Tensors.Diagnostics;

namespace SharpSeek.DecodeBenchmark;

/// <summary>Everything measured on one file (written to results.json).</summary>
internal sealed record FileReport(
    string Name, string Config, string Type, string File, long FileBytes, int Layers, int RoutedExperts,
    long WeightBytesPerDecodeToken, long SharpSeekKvBytesPerToken, double LlamaCppKvBytesPerToken, string? LlamaCppKvLog,
    string LlamaCppDescription, SingleStreamReport? SingleStream, UsersReport[]? ManyUsers, object Memory,
    /// <summary>Share of the machine's CPU that other processes used while this file was measured.</summary>
    double? OtherProcessesCpuShare,
    /// <summary>Read bandwidth measured right before this file (the single-stream table's "of measured bandwidth").</summary>
    double BandwidthGBps);

/// <summary>Single-stream tokens per second of every measured repeat, their medians and the ratios.</summary>
internal sealed record SingleStreamReport(
    double[] SharpSeekPrefill, double[] SharpSeekDecode, double[] LlamaCppPrefill, double[] LlamaCppDecode,
    double SharpSeekPrefillMedian, double SharpSeekDecodeMedian, double LlamaCppPrefillMedian, double LlamaCppDecodeMedian,
    double DecodeRatio, double PrefillRatio);

/// <summary>One user count: both engines' medians over the measured runs, and the ratios.</summary>
internal sealed record UsersReport(int Users, UsersSide SharpSeek, UsersSide LlamaCpp)
{
    public double ThroughputRatio => SharpSeek.Throughput / LlamaCpp.Throughput;
    public double DecodeRatio => SharpSeek.DecodeRate / LlamaCpp.DecodeRate;
    public double TtftMedianRatio => SharpSeek.TtftMedian / LlamaCpp.TtftMedian;
    public double TtftWorstRatio => SharpSeek.TtftWorst / LlamaCpp.TtftWorst;
    [JsonIgnore] public IReadOnlyList<UsersRun> LlamaCppRuns => LlamaCpp.Runs;
}

/// <summary>One engine at one user count: medians over its runs (seconds, tokens per second), and the runs.</summary>
internal sealed record UsersSide(double Throughput, double DecodeRate, double TtftMedian, double TtftWorst, double WallSeconds, IReadOnlyList<UsersRun> Runs)
{
    public static UsersSide Of(IReadOnlyList<UsersRun> runs)
    {
        double M(Func<UsersRun, double> f) => Statistics.Median(runs.Select(f).ToArray());
        return new(M(r => r.Throughput), M(r => r.DecodeRate), M(r => r.TtftMedian), M(r => r.TtftWorst), M(r => r.WallSeconds), runs);
    }
}

/// <summary>Memory of a process, from /proc: what it holds privately and what it maps from files (the shared page cache).</summary>
internal sealed record ProcessMemory(long AnonymousBytes, long FileBytes)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"private {AnonymousBytes / 1e9:F2} GB, file-backed (shared page cache) {FileBytes / 1e9:F2} GB resident");
}

/// <summary>The machine's conditions during the run.</summary>
internal static class Machine
{
    /// <summary>The 1, 5 and 15-minute load averages (other work on the two cores shows here).</summary>
    public static string LoadAverage()
    {
        try { return string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
    }

    public static ProcessMemory? Memory(int pid)
    {
        try
        {
            long anon = 0, file = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kilobytes(line);
                else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kilobytes(line);
            }
            return new ProcessMemory(anon, file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>CPU seconds used so far by the whole machine (all cores, /proc/stat) and by the given processes (/proc/PID/stat).</summary>
    public static (double Machine, double Ours)? CpuSeconds(params int[] pids)
    {
        const double tick = 100; // USER_HZ: /proc reports CPU time in 1/100 s on Linux
        try
        {
            var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
            long[] f = cpu.Skip(1).Take(8).Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            double machine = (f.Sum() - f[3] - f[4]) / tick;
            double ours = 0;
            foreach (int pid in pids)
            {
                string stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ours += (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / tick; // utime, stime
            }
            return (machine, ours);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    private static long Kilobytes(string line)
        => long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
}
