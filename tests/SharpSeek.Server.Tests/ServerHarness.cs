using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary>Starts a real server (Kestrel on 127.0.0.1, a free port) over a tiny random-weight model.</summary>
public static class ServerHarness
{
    public const string Key = "sk-test-0123456789abcdef0123456789abcdef";
    private static readonly Lazy<ServedModel> s_tiny = new(() => ServedModel.CreateRandom(RandomModelSize.Tiny, seed: 3, maxPositions: 4096));

    public static ServedModel TinyModel => s_tiny.Value;

    public static string TempDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharpseek-server-tests", Guid.NewGuid().ToString("N"), "data");
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static ServerOptions Options(string? dataDirectory = null, EngineOptions? engine = null) => new()
    {
        Port = 0,
        DataDirectory = dataDirectory ?? TempDirectory(),
        ApiKeys = [Key],
        Engine = engine ?? new EngineOptions { MaxContext = 4096, MaxConcurrentSequences = 4, MaxQueuedRequests = 8 },
        KeepAliveInterval = TimeSpan.FromMilliseconds(200),
        RequestsPerSecondPerKey = 1000,
        BurstPerKey = 1000,
        // One key drives these tests: per-key gates are lifted like the rate limit (TenantIsolationTests sets them).
        MaxRunningPerKey = 1000,
        MaxQueuedPerKey = 1000,
        // A test that fails with a request in flight should not wait the production drain time on dispose.
        ShutdownTimeout = TimeSpan.FromSeconds(3),
    };

    public static Task<SharpSeekServer> StartAsync(ServerOptions? options = null) => SharpSeekServer.StartAsync(options ?? Options(), TinyModel);

    public static HttpClient Http(SharpSeekServer server, string? key = Key)
    {
        var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(120) };
        if (key is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>The repository root (where SharpSeek.slnx is).</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SharpSeek.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    public static string OracleDirectory => Path.Combine(RepositoryRoot(), "tests", "oracles", "openai-js");

    /// <summary>Runs a node script of the openai-js oracle folder; returns (exit code, stdout, stderr).</summary>
    public static async Task<(int Code, string Out, string Err)> RunNodeAsync(string script, IDictionary<string, string> env, TimeSpan timeout)
    {
        Assert.True(Directory.Exists(Path.Combine(OracleDirectory, "node_modules", "openai")),
            "tests/oracles/openai-js/node_modules is missing: run scripts/install-oracles.sh (npm ci from the committed lock file)");
        var psi = new ProcessStartInfo("node", Path.Combine(OracleDirectory, script))
        {
            WorkingDirectory = OracleDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"node {script} ran past {timeout}: {await stderr}");
        }
        return (p.ExitCode, await stdout, await stderr);
    }
}
