using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace SharpSeek.Router.Tests;

/// <summary>
/// A throwaway PostgreSQL server for one test: Debian's binaries (<c>postgresql</c> package, which scripts/test.sh
/// installs when missing), a fresh data folder, a free port on loopback, trust authentication. As root the server runs
/// as the <c>postgres</c> user, since PostgreSQL refuses to run as root.
/// </summary>
internal sealed class PostgresServer : IDisposable
{
    private readonly string _bin, _data;
    private readonly bool _asPostgresUser;

    private PostgresServer(string bin, string data, int port, bool asPostgresUser)
    {
        _bin = bin;
        _data = data;
        Port = port;
        _asPostgresUser = asPostgresUser;
    }

    public int Port { get; }
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=sharpseek;Database=postgres;Pooling=true";

    public static PostgresServer Start()
    {
        string bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault() ?? ""
            : "";
        Assert.True(bin.Length > 0, "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb): apt-get install postgresql, as scripts/test.sh does");
        bool root = Environment.UserName == "root";
        string data = Directory.CreateTempSubdirectory("sharpseek-pg-").FullName;
        if (root) Run("chown", ["-R", "postgres:postgres", data], asPostgres: false);
        int port = FreePort();
        var server = new PostgresServer(bin, data, port, root);
        server.Pg("initdb", ["-D", data, "-U", "sharpseek", "--auth=trust", "--no-sync", "-E", "UTF8"]);
        server.Pg("pg_ctl", ["-D", data, "-l", Path.Combine(data, "server.log"), "-w", "-t", "60",
            "-o", $"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start"]);
        return server;
    }

    private void Pg(string tool, string[] args) => Run(Path.Combine(_bin, tool), args, _asPostgresUser);

    private static void Run(string file, string[] args, bool asPostgres)
    {
        var psi = new ProcessStartInfo(asPostgres ? "runuser" : file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asPostgres)
        {
            psi.ArgumentList.Add("-u");
            psi.ArgumentList.Add("postgres");
            psi.ArgumentList.Add("--");
            psi.ArgumentList.Add(file);
        }
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(90_000), $"{file} did not finish");
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {err.Result}{output}");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try { Pg("pg_ctl", ["-D", _data, "-m", "immediate", "stop"]); }
        catch (Exception e) when (e is Xunit.Sdk.XunitException or InvalidOperationException) { }
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}
