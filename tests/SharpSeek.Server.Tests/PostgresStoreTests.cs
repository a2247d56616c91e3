using System.Net;
using SharpSeek.Server.Accounts;

namespace SharpSeek.Server.Tests;

/// <summary>
/// The account store on PostgreSQL: the server named by SHARPSEEK_TEST_POSTGRES (a connection string), else a
/// throwaway one this test process starts (<see cref="TestPostgres"/>).
/// </summary>
public sealed class PostgresStoreTests
{
    private static string ConnectionString => TestPostgres.ConnectionString;

    [Fact]
    public async Task Keys_balances_and_ledger_work_on_postgresql_through_the_server()
    {
        string cs = ConnectionString;
        string key = AccountStore.NewKey();
        var options = ServerHarness.Options() with { PostgresConnectionString = cs, ApiKeys = [key] };
        await using var server = await ServerHarness.StartAsync(options);
        Assert.Equal("postgresql", server.Store.Backend);
        using var http = ServerHarness.Http(server, key);
        var r = await http.PostAsync("chat/completions", ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"pg"}],"max_tokens":3}"""));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var account = await server.Store.FindAccountAsync(key);
        Assert.NotNull(account);
        var row = Assert.Single(await server.Store.LedgerAsync(account!.Id));
        Assert.True(row.CostNano > 0);
        Assert.Equal(10_000_000_000 - row.CostNano, account.GrantedNano);
    }
}

/// <summary>
/// The PostgreSQL the tests of this process use: SHARPSEEK_TEST_POSTGRES when set, else one started on first use
/// (Debian's binaries, a temp folder) and stopped when the process exits.
/// </summary>
internal static class TestPostgres
{
    private static readonly Lazy<string> s_connection = new(() =>
    {
        if (Environment.GetEnvironmentVariable("SHARPSEEK_TEST_POSTGRES") is { Length: > 0 } given) return given;
        var server = SharpSeek.Router.Tests.PostgresServer.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Dispose();
        return server.ConnectionString;
    });

    public static string ConnectionString => s_connection.Value;
}
