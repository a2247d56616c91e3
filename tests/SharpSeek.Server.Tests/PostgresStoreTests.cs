using System.Net;
using SharpSeek.Server.Accounts;

namespace SharpSeek.Server.Tests;

/// <summary>
/// The account store on PostgreSQL. Runs against the server named by SHARPSEEK_TEST_POSTGRES (a connection string;
/// .ci/run can install postgresql and export it); without that variable there is no PostgreSQL here to test.
/// </summary>
public sealed class PostgresStoreTests
{
    private static string? ConnectionString => Environment.GetEnvironmentVariable("SHARPSEEK_TEST_POSTGRES");

    [Fact]
    public async Task Keys_balances_and_ledger_work_on_postgresql_through_the_server()
    {
        if (ConnectionString is not { } cs) return;
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
