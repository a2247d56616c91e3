using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace SharpSeek.DecodeBenchmark;

/// <summary>
/// llama.cpp's CPU prebuilt (through node-llama-cpp) kept loaded in a tests/oracles/llama/bench.mjs --serve process,
/// which runs one benchmark repeat per request, so the caller can interleave the two engines' repeats. The same process
/// (the model loaded once) also runs the multi-user measurement of tests/oracles/llama/users.mjs.
/// </summary>
internal sealed class LlamaCppRunner : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;

    public string Description { get; }
    public int ProcessId => _process.Id;

    /// <param name="userPromptsFile">One user's prompt per line (null: no multi-user measurement).</param>
    public LlamaCppRunner(string model, string promptFile, string decodeFile, string? userPromptsFile, BenchmarkSettings s)
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
        if (userPromptsFile is not null)
            foreach (var a in new[] { "--user-prompts", userPromptsFile, "--user-tokens", s.UserTokens.ToString(CultureInfo.InvariantCulture) })
                start.ArgumentList.Add(a);
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        _stderr = _process.StandardError.ReadToEndAsync();
        using var ready = JsonDocument.Parse(ReadLine());
        var r = ready.RootElement;
        Description = $"llama.cpp {r.GetProperty("release").GetString()}, KV {r.GetProperty("kvCacheType").GetString()}, flash attention {r.GetProperty("flashAttention")}";
        if (r.TryGetProperty("kvCacheMiB", out var mib) && mib.ValueKind == JsonValueKind.Number &&
            r.TryGetProperty("kvCacheCells", out var cells) && cells.ValueKind == JsonValueKind.Number)
            KvCache = (mib.GetDouble(), cells.GetInt32());
        KvCacheLog = r.TryGetProperty("kvCacheLog", out var log) && log.ValueKind == JsonValueKind.String ? log.GetString() : null;
    }

    /// <summary>The KV cache of the single-stream context as llama.cpp logged it: total MiB (2 decimals) and cells (null when not logged).</summary>
    public (double MiB, int Cells)? KvCache { get; }
    public string? KvCacheLog { get; }

    /// <summary>
    /// KV-cache bytes per token: <paramref name="expected"/> (the latent/GQA layout at llama.cpp's KV type) when llama.cpp's
    /// logged size agrees with it to the log's rounding, else the logged size over its cells; null when nothing was logged.
    /// </summary>
    public (double Bytes, bool MatchesExpected)? KvCacheBytesPerToken(long expected)
    {
        if (KvCache is not { } kv) return null;
        double logged = kv.MiB * 1048576 / kv.Cells, rounding = 0.006 * 1048576 / kv.Cells;
        return Math.Abs(logged - expected) <= rounding ? (expected, true) : (logged, false);
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

    /// <summary>Users 1..<paramref name="users"/> arrive together, in one context of that many sequences (see users.mjs).</summary>
    public UsersRun Users(int users)
    {
        _process.StandardInput.WriteLine($"users {users}");
        _process.StandardInput.Flush();
        using var doc = JsonDocument.Parse(ReadLine());
        var r = doc.RootElement;
        var tokenMs = r.GetProperty("tokenMs").EnumerateArray().Select(u => u.EnumerateArray().Select(t => t.GetDouble() / 1000).ToArray()).ToArray();
        var batches = r.GetProperty("batches").EnumerateArray()
            .Select(b => new DecodeCall(b.GetProperty("sequences").GetInt32(), b.GetProperty("tokens").GetInt32(), b.GetProperty("ms").GetDouble() / 1000))
            .ToArray();
        return new UsersRun(
            tokenMs.Select(t => t[0]).ToArray(),
            tokenMs.Select(t => t[^1]).ToArray(),
            tokenMs.SelectMany(t => t).Order().ToArray(),
            tokenMs.Select(t => t.Length).ToArray(),
            batches);
    }

    private string ReadLine()
    {
        if (_process.StandardOutput.ReadLine() is { } line) return line;
        bool exited = _process.WaitForExit(TimeSpan.FromSeconds(10));
        throw new InvalidOperationException($"llama.cpp benchmark process ended (exit {(exited ? _process.ExitCode : -1)}):\n{(exited ? _stderr.Result : "")}");
    }

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
    public double PrefillMedian => SharpSeek.Tensors.Diagnostics.Statistics.Median(Prefill);
    public double DecodeMedian => SharpSeek.Tensors.Diagnostics.Statistics.Median(Decode);
}
