using System.Diagnostics;
using System.Text.RegularExpressions;

namespace SharpSeek.Router.Tests;

/// <summary>A <c>sharpseek serve</c> child process (the built CLI next to the tests) and the address it printed.</summary>
internal sealed partial class ServeProcess : IDisposable
{
    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "sharpseek.dll");
    private readonly Process _process;

    private ServeProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<ServeProcess> StartAsync(string dataDirectory, string postgres, string key)
    {
        Assert.True(File.Exists(Cli), $"CLI not built at {Cli}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Cli, "serve", "--random", "--random-size", "tiny", "--port", "0", "--data", dataDirectory, "--postgres", postgres,
                     "--api-key", key, "--slots", "4", "--queue", "32", "--rate", "1000", "--max-running-per-key", "4", "--max-queued-per-key", "32", "--no-speculative" })
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        _ = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            var m = ServingAt().Match(line);
            if (!m.Success) continue;
            _ = process.StandardOutput.ReadToEndAsync(); // keep draining so the child never blocks on a full pipe
            return new ServeProcess(process, new Uri(m.Groups[1].Value));
        }
        process.Kill(entireProcessTree: true);
        throw new InvalidOperationException("serve exited before printing its address");
    }

    /// <summary>SIGKILL: no drain, no flush, no goodbye.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
        _process.Dispose();
    }

    [GeneratedRegex(@"SharpSeek serving .* at (http://\S+/)")]
    private static partial Regex ServingAt();
}
