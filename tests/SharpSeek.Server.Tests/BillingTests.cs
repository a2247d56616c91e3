using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SharpSeek.Inference;
using SharpSeek.Server.Accounts;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary>
/// Billing that adds up, on SQLite and on PostgreSQL (the latter on the PostgreSQL of <see cref="TestPostgres"/>, as in
/// <see cref="PostgresStoreTests"/>): reserve the worst case at admission, settle to what was delivered, never below zero.
/// </summary>
public sealed class BillingTests
{
    private static string Postgres => TestPostgres.ConnectionString;

    /// <summary>Options on the named backend with a fresh key (PostgreSQL databases outlive a test).</summary>
    private static (ServerOptions Options, string Key)? On(string backend, EngineOptions? engine = null, decimal grant = 10m)
    {
        string key = AccountStore.NewKey();
        var options = ServerHarness.Options(engine: engine) with { ApiKeys = [key], InitialGrant = grant };
        if (backend == "sqlite") return (options, key);
        return (options with { PostgresConnectionString = Postgres }, key);
    }

    private static long Nano(decimal yuan) => (long)(yuan * 1_000_000_000m);

    private static async Task<Account> AccountOf(SharpSeekServer server, string key) => (await server.Store.FindAccountAsync(key))!;

    private static async Task<UsageRecord> RowFor(SharpSeekServer server, long accountId, Func<UsageRecord, bool>? match = null)
    {
        for (int i = 0; i < 1000; i++)
        {
            var rows = await server.Store.LedgerAsync(accountId);
            var row = rows.FirstOrDefault(r => match?.Invoke(r) ?? true);
            if (row is not null) return row;
            await Task.Delay(20);
        }
        throw new TimeoutException("no ledger row");
    }

    private static HttpRequestMessage Chat(string json) => new(HttpMethod.Post, "chat/completions") { Content = ServerHarness.Json(json) };

    private const string Holder = """{"model":"deepseek-chat","messages":[{"role":"user","content":"go on"}],"max_tokens":16000,"ignore_eos":true,"stream":true}""";

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task A_request_cancelled_while_queued_is_free(string backend)
    {
        using var small = ServedModel.CreateRandom(RandomModelSize.Small, seed: 3, maxPositions: 16384);
        if (On(backend, new EngineOptions { MaxContext = 16384, MaxConcurrentSequences = 1, MaxQueuedRequests = 4 }) is not (ServerOptions options, string key)) return;
        string waiterKey = AccountStore.NewKey();
        await using var server = await SharpSeekServer.StartAsync(options with { ApiKeys = [key, waiterKey] }, small);
        using var holderHttp = ServerHarness.Http(server, key);
        using var waiterHttp = ServerHarness.Http(server, waiterKey);
        using var holdCts = new CancellationTokenSource();
        var holder = await holderHttp.SendAsync(Chat(Holder), HttpCompletionOption.ResponseHeadersRead, holdCts.Token);
        await CachingAndAdmissionTests.WaitUntil(() => server.Engine.RunningSequences == 1);

        using var waitCts = new CancellationTokenSource();
        var waiter = waiterHttp.SendAsync(Chat("""{"model":"deepseek-chat","messages":[{"role":"user","content":"q"}],"max_tokens":50}"""), waitCts.Token);
        await CachingAndAdmissionTests.WaitUntil(() => server.Engine.QueuedRequests == 1);
        var account = await AccountOf(server, waiterKey);
        Assert.True(await server.Store.ReservedAsync(account.Id) > 0); // the worst case is held while it waits
        waitCts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter);

        var row = await RowFor(server, account.Id);
        Assert.Equal("cancelled", row.Outcome);
        Assert.Equal(0, row.CompletionTokens);
        Assert.Equal(0, row.CostNano);
        Assert.Equal(Nano(10m), (await AccountOf(server, waiterKey)).TotalNano);
        Assert.Equal(0, await server.Store.ReservedAsync(account.Id));
        holdCts.Cancel();
        holder.Dispose();
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task A_request_failing_before_its_first_token_is_free(string backend)
    {
        // 1) Expired in the queue (it never started): 503, a row, no charge.
        using var small = ServedModel.CreateRandom(RandomModelSize.Small, seed: 3, maxPositions: 16384);
        if (On(backend, new EngineOptions { MaxContext = 16384, MaxConcurrentSequences = 1, MaxQueuedRequests = 4, MaxQueueWait = TimeSpan.FromMilliseconds(300) }) is not (ServerOptions options, string key)) return;
        string otherKey = AccountStore.NewKey();
        await using (var server = await SharpSeekServer.StartAsync(options with { ApiKeys = [key, otherKey] }, small))
        {
            using var holderHttp = ServerHarness.Http(server, key);
            using var http = ServerHarness.Http(server, otherKey);
            using var holdCts = new CancellationTokenSource();
            var holder = await holderHttp.SendAsync(Chat(Holder), HttpCompletionOption.ResponseHeadersRead, holdCts.Token);
            await CachingAndAdmissionTests.WaitUntil(() => server.Engine.RunningSequences == 1);
            var expired = await http.SendAsync(Chat("""{"model":"deepseek-chat","messages":[{"role":"user","content":"q"}],"max_tokens":50}"""));
            string body = await expired.Content.ReadAsStringAsync();
            Assert.Contains("server_busy", body); // after keep-alive lines the status is already 200: the error body says it
            var account = await AccountOf(server, otherKey);
            var row = await RowFor(server, account.Id);
            Assert.Equal("expired", row.Outcome);
            Assert.Equal(0, row.CostNano);

            // 2) A non-streamed answer cut off by its client after generation began: nothing delivered, nothing charged.
            holdCts.Cancel();
            holder.Dispose();
            await CachingAndAdmissionTests.WaitUntil(() => server.Engine.RunningSequences == 0);
            long generatedBefore = server.Engine.GeneratedTokens;
            using var cut = new CancellationTokenSource();
            var plain = http.SendAsync(Chat("""{"model":"deepseek-chat","messages":[{"role":"user","content":"go on"}],"max_tokens":16000,"ignore_eos":true}"""), cut.Token);
            await CachingAndAdmissionTests.WaitUntil(() => server.Engine.GeneratedTokens > generatedBefore);
            cut.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => plain);
            var cutRow = await RowFor(server, account.Id, r => r.Outcome == "cancelled");
            Assert.True(cutRow.CompletionTokens > 0);
            Assert.Equal(0, cutRow.CostNano);
            Assert.Equal(Nano(10m), (await AccountOf(server, otherKey)).TotalNano);
            Assert.Equal(0, await server.Store.ReservedAsync(account.Id));
        }

        // 3) Refused by the engine after the reservation (a prompt larger than the KV memory): 400, no row, nothing held.
        long perToken;
        await using (var probe = await ServerHarness.StartAsync()) perToken = probe.Engine.KvBytesPerToken;
        if (On(backend, new EngineOptions { MaxContext = 4096, KvMemoryBytes = perToken * 64 * 8 }) is not (ServerOptions tightOptions, string tightKey)) return;
        await using (var server = await ServerHarness.StartAsync(tightOptions with { ContextCache = new ContextCacheOptions { MemoryBytes = 0 } }))
        {
            using var http = ServerHarness.Http(server, tightKey);
            string text = new('x', (int)server.Engine.KvPages * 64 + 100);
            var r = await http.PostAsync("chat/completions", ServerHarness.Json(JsonSerializer.Serialize(new { model = "deepseek-chat", messages = new[] { new { role = "user", content = text } }, max_tokens = 5 })));
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Contains("KV cache memory", await r.Content.ReadAsStringAsync());
            var account = await AccountOf(server, tightKey);
            Assert.Empty(await server.Store.LedgerAsync(account.Id));
            Assert.Equal(0, await server.Store.ReservedAsync(account.Id));
            Assert.Equal(Nano(10m), account.TotalNano);
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task A_streamed_answer_cut_mid_way_pays_for_what_it_delivered(string backend)
    {
        using var small = ServedModel.CreateRandom(RandomModelSize.Small, seed: 3, maxPositions: 16384);
        if (On(backend, new EngineOptions { MaxContext = 16384 }) is not (ServerOptions options, string key)) return;
        await using var server = await SharpSeekServer.StartAsync(options, small);
        using var http = ServerHarness.Http(server, key);
        using var cts = new CancellationTokenSource();
        var response = await http.SendAsync(Chat(Holder), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var body = await response.Content.ReadAsStreamAsync();
        var reader = new StreamReader(body);
        int contentChunks = 0;
        while (contentChunks < 5 && await reader.ReadLineAsync() is { } line)
            if (line.StartsWith("data: ", StringComparison.Ordinal) && line.Contains("\"content\":\"", StringComparison.Ordinal) && !line.Contains("\"content\":\"\"", StringComparison.Ordinal)) contentChunks++;
        cts.Cancel();
        response.Dispose();
        var account = await AccountOf(server, key);
        var row = await RowFor(server, account.Id);
        Assert.Equal("cancelled", row.Outcome);
        Assert.True(row.CompletionTokens >= 1 && row.CompletionTokens < 16000);
        Assert.Equal(options.ChatPrice.CostNano(row.CacheHitTokens, row.CacheMissTokens, row.CompletionTokens), row.CostNano);
        Assert.True(row.CostNano > 0);
        Assert.Equal(Nano(10m) - row.CostNano, (await AccountOf(server, key)).TotalNano);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task Concurrent_requests_at_a_low_balance_never_take_it_below_zero(string backend)
    {
        // Each request costs its worst case exactly (4 prompt tokens, all misses; 100 output tokens, end-of-sequence
        // ignored): 4·2,000 + 100·8,000 = 808,000 nano-CNY. The grant covers three, with 76,000 left.
        if (On(backend, grant: 0.0025m) is not (ServerOptions options, string key)) return;
        await using var server = await ServerHarness.StartAsync(options);
        using var http = ServerHarness.Http(server, key);
        const string body = """{"model":"deepseek-chat","messages":[{"role":"user","content":"q"}],"max_tokens":100,"ignore_eos":true}""";
        Assert.Equal(808_000, options.ChatPrice.MaxCostNano(4, 100));
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => http.PostAsync("chat/completions", ServerHarness.Json(body))));
        var codes = responses.Select(r => r.StatusCode).ToList();
        Assert.All(codes, c => Assert.True(c is HttpStatusCode.OK or HttpStatusCode.PaymentRequired, c.ToString()));
        Assert.Equal(3, codes.Count(c => c == HttpStatusCode.OK));

        var account = await AccountOf(server, key);
        var rows = await server.Store.LedgerAsync(account.Id);
        Assert.Equal(3, rows.Count);
        Assert.All(rows, r => Assert.Equal(808_000, r.CostNano));
        Assert.Equal(2_500_000 - 3 * 808_000, account.TotalNano);
        Assert.True(account.TotalNano >= 0);
        Assert.Equal(0, await server.Store.ReservedAsync(account.Id));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task Without_max_tokens_a_low_balance_gets_the_answer_it_covers_and_ends_at_zero(string backend)
    {
        // 4 prompt tokens at 2,000 + 50 output tokens at 8,000 = 408,000 nano-CNY: the default max_tokens is lowered to 50.
        if (On(backend, grant: 0.000408m) is not (ServerOptions options, string key)) return;
        await using var server = await ServerHarness.StartAsync(options);
        using var http = ServerHarness.Http(server, key);
        var r = await http.PostAsync("chat/completions", ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"q"}],"ignore_eos":true}"""));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal(50, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", doc.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(0, (await AccountOf(server, key)).TotalNano);
        // Nothing left: even the smallest request is refused, and an explicit max_tokens beyond the balance is too.
        var poor = await http.PostAsync("chat/completions", ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"q"}],"max_tokens":1}"""));
        Assert.Equal(HttpStatusCode.PaymentRequired, poor.StatusCode);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task The_ledger_sum_is_the_balance_change_and_what_user_balance_shows(string backend)
    {
        if (On(backend) is not (ServerOptions options, string key)) return;
        await using var server = await ServerHarness.StartAsync(options);
        using var http = ServerHarness.Http(server, key);
        string longText = new('z', 300);
        foreach (var json in new[]
        {
            """{"model":"deepseek-chat","messages":[{"role":"user","content":"a"}],"max_tokens":20}""",
            """{"model":"deepseek-chat","messages":[{"role":"user","content":"c"}],"max_tokens":20,"stream":true,"stream_options":{"include_usage":true}}""",
            $$"""{"model":"deepseek-chat","messages":[{"role":"user","content":"{{longText}}"}],"max_tokens":7}""",
            $$"""{"model":"deepseek-chat","messages":[{"role":"user","content":"{{longText}}"}],"max_tokens":7}""",
            """{"model":"deepseek-chat","messages":[{"role":"user","content":"d"}]}""",
        })
        {
            var r = await http.PostAsync("chat/completions", ServerHarness.Json(json));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            await r.Content.ReadAsStringAsync();
        }
        var bad = await http.PostAsync("chat/completions", ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"e"}],"top_p":1e-46}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);

        var account = await AccountOf(server, key);
        var rows = await server.Store.LedgerAsync(account.Id);
        Assert.Equal(5, rows.Count);
        Assert.Contains(rows, r => r.CacheHitTokens > 0); // the repeated long prompt hit, and was billed at the hit price
        foreach (var row in rows)
        {
            var price = row.Model == "deepseek-reasoner" ? options.ReasonerPrice : options.ChatPrice;
            Assert.Equal(price.CostNano(row.CacheHitTokens, row.CacheMissTokens, row.CompletionTokens), row.CostNano);
        }
        Assert.Equal(Nano(10m) - rows.Sum(r => r.CostNano), account.TotalNano);
        using var balance = JsonDocument.Parse(await http.GetStringAsync("user/balance"));
        string shown = balance.RootElement.GetProperty("balance_infos")[0].GetProperty("total_balance").GetString()!;
        Assert.Equal((account.TotalNano / 1_000_000_000m).ToString("0.00", CultureInfo.InvariantCulture), shown);
        Assert.Equal(0, await server.Store.ReservedAsync(account.Id));
    }

    [Fact]
    public async Task A_ledger_write_that_keeps_failing_is_retried_logged_kept_and_written_at_the_next_start()
    {
        string data = ServerHarness.TempDirectory();
        string dbPath = Path.Combine(data, "accounts.db");
        string pending = Path.Combine(data, "ledger-pending.jsonl");
        var logs = new LogCapture();
        long accountId;
        var row = new UsageRecord
        {
            RequestId = "chatcmpl-retry-test", AccountId = 0, Model = "deepseek-chat", Endpoint = "/chat/completions", Outcome = "stop",
            PromptTokens = 10, CacheMissTokens = 10, CompletionTokens = 5, CostNano = 60_000,
        };
        using (var store = AccountStore.OpenSqlite(dbPath))
        {
            accountId = store.EnsureKey("sk-retry", "retry", 1_000_000);
            row = row with { AccountId = accountId };
            // The ledger table goes away under the store (a real failure of every write until it is back).
            using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={dbPath}"))
            {
                c.Open();
                using var drop = c.CreateCommand();
                drop.CommandText = "DROP TABLE usage_ledger";
                drop.ExecuteNonQuery();
            }
            var writer = new LedgerWriter(store, pending, logs.CreateLogger("SharpSeek.Ledger")) { Backoff = [TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1)] };
            Assert.False(await writer.SettleAsync(row));
            Assert.Equal(1, writer.PendingRows);
        }
        Assert.Equal(2, logs.Entries.Count(e => e.Level == LogLevel.Warning)); // two retries, each logged
        var error = Assert.Single(logs.Entries, e => e.Level == LogLevel.Error);
        Assert.NotNull(error.Exception);
        Assert.Contains("chatcmpl-retry-test", error.Message);
        Assert.True(File.Exists(pending));
        File.AppendAllText(pending, File.ReadAllText(pending)); // the same row twice (a crash during an earlier replay): charged once

        using (var store = AccountStore.OpenSqlite(dbPath)) // opening creates the table again
        {
            var writer = new LedgerWriter(store, pending, logs.CreateLogger("SharpSeek.Ledger"));
            Assert.Equal(2, await writer.ReplayPendingAsync());
            Assert.False(File.Exists(pending));
            var written = Assert.Single(await store.LedgerAsync(accountId));
            Assert.Equal(60_000, written.CostNano);
            Assert.Equal(1_000_000 - 60_000, (await store.GetAccountAsync(accountId))!.TotalNano);
        }
    }
}
