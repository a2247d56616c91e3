using System.Diagnostics;

namespace SharpSeek.Tests.Mpi;

/// <summary>Runs a command as an N-process job under Open MPI's <c>mpirun</c> and collects what every rank printed.</summary>
internal static class MpiJob
{
    public sealed record Result(int ExitCode, string Output, TimeSpan Elapsed);

    public static string Mpirun => File.Exists("/usr/bin/mpirun") ? "/usr/bin/mpirun"
        : throw new InvalidOperationException("mpirun is missing: the multi-process tests need Open MPI (bash scripts/install-oracles.sh installs openmpi-bin and libopenmpi-dev)");

    /// <summary>
    /// <c>mpirun -np <paramref name="ranks"/> <paramref name="program"/> <paramref name="arguments"/></c>. Root is allowed
    /// (CI runs as root) and ranks may outnumber cores (3 ranks on a 2-core box); idle ranks yield instead of spinning.
    /// </summary>
    public static ProcessStartInfo StartInfo(int ranks, string program, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(Mpirun) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "--mca", "mpi_yield_when_idle", "1", "--mca", "btl", "self,vader,tcp", "-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), program])
            start.ArgumentList.Add(a);
        foreach (string a in arguments) start.ArgumentList.Add(a);
        return start;
    }

    private static ProcessStartInfo Direct(string program, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        return start;
    }

    /// <summary>Runs the job to its end; one rank runs <paramref name="program"/> directly, without mpirun (the one-process baseline).</summary>
    public static async Task<Result> RunAsync(int ranks, string program, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = ranks == 1 ? Direct(program, arguments) : StartInfo(ranks, program, arguments);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{ranks} rank(s) of {program} did not end within {timeout}: {await stdout}{await stderr}");
        }
        return new Result(process.ExitCode, await stdout + await stderr, clock.Elapsed);
    }
}
