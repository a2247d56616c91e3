using System.Diagnostics;

namespace SharpSeek.Cli.Tests;

/// <summary>Runs the built <c>sharpseek</c> CLI as a child process and captures what it printed.</summary>
internal static class CliProcess
{
    private static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "sharpseek.dll");

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args)
    {
        Assert.True(File.Exists(Cli), $"CLI not built at {Cli}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start the CLI");
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"sharpseek {string.Join(' ', args)} did not finish within two minutes");
        }
        return new Result(p.ExitCode, stdout, stderr.Result);
    }

    /// <summary>Runs and requires exit code 0.</summary>
    public static Result Ok(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.ExitCode == 0, $"sharpseek {string.Join(' ', args)} exited with {r.ExitCode}: {r.Stderr}");
        return r;
    }
}

/// <summary>A temporary folder removed with everything in it.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("sharpseek-cli-test-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
