using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace SharpSeek.DecodeBenchmark;

/// <summary>
/// llama.cpp's CPU prebuilt (through node-llama-cpp) kept loaded in a tests/oracles/llama/bench.mjs --serve process,
/// which runs one benchmark repeat per request, so the caller can interleave the two engines' repeats.
/// </summary>
internal sealed class LlamaCppRunner : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;

    public string Description { get; }

    public LlamaCppRunner(string model, string promptFile, string decodeFile, BenchmarkSettings s)
    {
        string dir = OracleDirectory;
        if (!File.Exists(Path.Combine(dir, "node_modules", "@node-llama-cpp", "linux-x64", "package.json")))
        {
            using var install = Process.Start(new ProcessStartInfo("bash", "install.sh") { WorkingDirectory = dir })!;
            install.WaitForExit();
            if (install.ExitCode != 0) throw new InvalidOperationException($"installing the llama.cpp oracle in {dir} failed");
        }
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = dir, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in new[] { "bench.mjs", "--serve", "--model", model, "--prompt-tokens", promptFile, "--decode-tokens", decodeFile,
                     "--threads", s.Threads.ToString(CultureInfo.InvariantCulture), "--kv", s.LlamaKvType })
            start.ArgumentList.Add(a);
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        _stderr = _process.StandardError.ReadToEndAsync();
        using var ready = JsonDocument.Parse(ReadLine());
        var r = ready.RootElement;
        Description = $"llama.cpp {r.GetProperty("release").GetString()}, KV {r.GetProperty("kvCacheType").GetString()}, flash attention {r.GetProperty("flashAttention")}";
    }

    public static string OracleDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "SharpSeek.slnx"))) return Path.Combine(dir.FullName, "tests", "oracles", "llama");
            throw new InvalidOperationException($"SharpSeek.slnx not found above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>One prefill + decode repeat: tokens per second of each.</summary>
    public (double Prefill, double Decode) Repeat()
    {
        _process.StandardInput.WriteLine("repeat");
        _process.StandardInput.Flush();
        using var doc = JsonDocument.Parse(ReadLine());
        return (doc.RootElement.GetProperty("prefill").GetDouble(), doc.RootElement.GetProperty("decode").GetDouble());
    }

    private string ReadLine()
        => _process.StandardOutput.ReadLine()
           ?? throw new InvalidOperationException($"llama.cpp benchmark process ended (exit {(_process.HasExited ? _process.ExitCode : -1)}):\n{(_process.HasExited ? _stderr.Result : "")}");

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("quit");
                _process.StandardInput.Flush();
                if (!_process.WaitForExit(TimeSpan.FromSeconds(30))) _process.Kill(entireProcessTree: true);
            }
        }
        catch (IOException)
        {
            // the process already closed its input
        }
        _process.Dispose();
    }
}

/// <summary>Tokens per second of every measured repeat.</summary>
internal sealed record SpeedSamples(double[] Prefill, double[] Decode, string Description)
{
    public double PrefillMedian => SharpSeek.Benchmarks.Statistics.Median(Prefill);
    public double DecodeMedian => SharpSeek.Benchmarks.Statistics.Median(Decode);
}
