using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SharpSeek.Inference;
using SharpSeek.Server.Accounts;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary>What an operator relies on: a log line per request, error JSON for every failure, a bounded shutdown, binding rules, damaged cache blocks.</summary>
public sealed class OperationsTests
{
    private static void AssertErrorJson(string body, string code)
    {
        using var doc = JsonDocument.Parse(body);
        var error = doc.RootElement.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal(code, error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Every_request_gets_one_log_line_with_its_status_tokens_and_timings()
    {
        var logs = new LogCapture();
        await using var server = await SharpSeekServer.StartAsync(ServerHarness.Options(), ServerHarness.TinyModel, logs);
        using var http = ServerHarness.Http(server);
        using var anonymous = ServerHarness.Http(server, key: null);
        string text = new('k', 200);
        var sent = new List<(Func<Task<HttpResponseMessage>> Send, int Status)>
        {
            (() => http.PostAsync("chat/completions", ServerHarness.Json($$"""{"model":"deepseek-chat","messages":[{"role":"user","content":"{{text}}"}],"max_tokens":3}""")), 200),
            (() => http.PostAsync("chat/completions", ServerHarness.Json($$"""{"model":"deepseek-chat","messages":[{"role":"user","content":"{{text}}"}],"max_tokens":3,"ignore_eos":true,"stream":true}""")), 200),
            (() => http.PostAsync("beta/completions", ServerHarness.Json("""{"model":"deepseek-chat","prompt":"def f(","max_tokens":3}""")), 200),
            (() => http.PostAsync("chat/completions", ServerHarness.Json("""{"model":"nope","messages":[]}""")), 400),
            (() => anonymous.PostAsync("chat/completions", ServerHarness.Json("{}")), 401),
            (() => http.GetAsync("models"), 200),
            (() => http.GetAsync("user/balance"), 200),
        };
        foreach (var (send, status) in sent)
        {
            var r = await send();
            await r.Content.ReadAsStringAsync();
            Assert.Equal(status, (int)r.StatusCode);
        }
        await CachingAndAdmissionTests.WaitUntil(() => logs.Requests.Count >= sent.Count);
        var lines = logs.Requests;
        Assert.Equal(sent.Count, lines.Count);
        // Lines come in the order requests end, which a client cannot observe exactly: compare as sets.
        Assert.Equal(sent.Select(s => s.Status).Order(), lines.Select(l => (int)l.Fields["Status"]!).Order());
        Assert.All(lines, l => Assert.Equal(LogLevel.Information, l.Level));

        // The streamed request repeated the first one's prompt: tokens, the cache hit and timings are on its line (it
        // ignores EOS, so its 3 tokens do not depend on what the random model draws).
        var streamed = Assert.Single(lines, l => (string)l.Fields["Cache"]! == "hit");
        Assert.Equal("/chat/completions", streamed.Fields["Endpoint"]);
        Assert.Equal("hit", streamed.Fields["Cache"]);
        Assert.Equal(203, streamed.Fields["PromptTokens"]);
        Assert.True((int)streamed.Fields["CachedTokens"]! >= 192);
        Assert.Equal(3, streamed.Fields["CompletionTokens"]);
        Assert.True((long)streamed.Fields["TtftMs"]! >= 0 && (long)streamed.Fields["TotalMs"]! >= 0);
        Assert.NotNull(streamed.Fields["AccountId"]);
        Assert.StartsWith("chatcmpl-", (string)streamed.Fields["RequestId"]!);
        Assert.Contains("status=200", streamed.Message);
        string metrics = await anonymous.GetStringAsync("metrics");
        Assert.Contains("sharpseek_in_flight_requests 0", metrics);
        Assert.Contains("sharpseek_ledger_pending_rows_total 0", metrics);
        Assert.Contains("sharpseek_context_cache_corrupt_blocks_total 0", metrics);
        Assert.Equal(2, lines.Count(l => (string)l.Fields["Cache"]! == "miss"));
        var ledger = await server.Store.LedgerAsync();
        var billed = lines.Where(l => (string)l.Fields["Cache"]! != "none").Select(l => (string)l.Fields["RequestId"]!).Order();
        Assert.Equal(ledger.Select(r => r.RequestId).Order(), billed); // the same ids as the ledger
    }

    [Theory]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"top_p":1e-46}""", 422, "invalid_parameter")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"a\ud800b"}]}""", 400, "invalid_request")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"stop":"\udc00"}""", 400, "invalid_request")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user\udfff","content":"x"}]}""", 400, "invalid_request")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f\ud800"}}]}""", 400, "invalid_request")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function\ud800","function":{"name":"f"}}]}""", 400, "invalid_request")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"tool_choice":"auto\ud800","tools":[{"type":"function","function":{"name":"f"}}]}""", 400, "invalid_request")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"tool_choice":"required","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"enum":["\ud800"]}}}}}]}""", 400, "invalid_request")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"tool_choice":"required","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"\udc00":{"type":"string"}},"required":["\udc00"]}}}]}""", 400, "invalid_request")]
    public async Task Values_that_used_to_escape_as_bare_500s_are_error_json(string body, int status, string code)
    {
        var logs = new LogCapture();
        await using var server = await SharpSeekServer.StartAsync(ServerHarness.Options(), ServerHarness.TinyModel, logs);
        using var http = ServerHarness.Http(server);
        var r = await http.PostAsync("chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(status, (int)r.StatusCode);
        AssertErrorJson(await r.Content.ReadAsStringAsync(), code);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
        // The server goes on serving.
        var ok = await http.PostAsync("chat/completions", ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"max_tokens":2}"""));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task An_unexpected_failure_is_a_500_with_error_json_and_an_error_log_with_its_stack_trace()
    {
        var logs = new LogCapture();
        var options = ServerHarness.Options();
        await using var server = await SharpSeekServer.StartAsync(options, ServerHarness.TinyModel, logs);
        // The store loses its keys table under the running server: authentication itself fails, unexpectedly.
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={options.AccountsDatabasePath}"))
        {
            c.Open();
            using var drop = c.CreateCommand();
            drop.CommandText = "DROP TABLE api_keys";
            drop.ExecuteNonQuery();
        }
        using var http = ServerHarness.Http(server);
        foreach (var r in new[]
        {
            await http.PostAsync("chat/completions", ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"max_tokens":2}""")),
            await http.GetAsync("user/balance"),
        })
        {
            Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
            AssertErrorJson(await r.Content.ReadAsStringAsync(), "internal_error");
        }
        var errors = logs.Entries.Where(e => e.Level == LogLevel.Error).ToList();
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.Contains("api_keys", e.Exception!.ToString()));
        Assert.All(errors, e => Assert.NotNull(e.Exception!.StackTrace));
        Assert.Equal(2, logs.Requests.Count(l => (int)l.Fields["Status"]! == 500));
    }

    [Fact]
    public async Task Shutdown_drains_a_short_request_and_cancels_a_long_one_at_the_timeout_with_its_ledger_row()
    {
        using var small = ServedModel.CreateRandom(RandomModelSize.Small, seed: 3, maxPositions: 16384);
        string data = ServerHarness.TempDirectory();
        var options = ServerHarness.Options(data, new EngineOptions { MaxContext = 16384 }) with { ShutdownTimeout = TimeSpan.FromSeconds(1) };
        var logs = new LogCapture();
        var server = await SharpSeekServer.StartAsync(options, small, logs);
        using var http = ServerHarness.Http(server);
        var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "chat/completions")
        {
            Content = ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"go"}],"max_tokens":16000,"ignore_eos":true,"stream":true}"""),
        }, HttpCompletionOption.ResponseHeadersRead);
        var reading = new StreamReader(await response.Content.ReadAsStreamAsync()).ReadToEndAsync();
        await CachingAndAdmissionTests.WaitUntil(() => server.Engine.GeneratedTokens > 0);

        var sw = Stopwatch.StartNew();
        var stopping = server.DisposeAsync().AsTask();
        // While draining, a new request is refused with error JSON, not left hanging.
        await CachingAndAdmissionTests.WaitUntil(() => server.State.Draining);
        var refused = await http.PostAsync("chat/completions", ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"max_tokens":2}"""));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        AssertErrorJson(await refused.Content.ReadAsStringAsync(), "shutting_down");
        await stopping.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"shutdown took {sw.Elapsed}");
        try { await reading.WaitAsync(TimeSpan.FromSeconds(10)); } catch (HttpRequestException) { } catch (IOException) { }

        using var store = AccountStore.OpenSqlite(options.AccountsDatabasePath);
        var row = Assert.Single(await store.LedgerAsync());
        Assert.Equal("cancelled", row.Outcome);
        Assert.True(row.CompletionTokens > 0 && row.CostNano > 0); // streamed tokens were delivered, and billed
        Assert.Contains(logs.Entries, e => e.Message.Contains("cancelling them", StringComparison.Ordinal));
        Assert.Contains(logs.Requests, l => (string)l.Fields["Outcome"]! == "cancelled");
    }

    [Fact]
    public async Task A_short_request_in_flight_at_shutdown_completes()
    {
        string data = ServerHarness.TempDirectory();
        var server = await ServerHarness.StartAsync(ServerHarness.Options(data) with { ShutdownTimeout = TimeSpan.FromSeconds(20) });
        using var http = ServerHarness.Http(server);
        var request = http.PostAsync("chat/completions", ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"go"}],"max_tokens":3000,"ignore_eos":true}"""));
        await CachingAndAdmissionTests.WaitUntil(() => server.State.InFlight == 1);
        await server.DisposeAsync();
        var r = await request;
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal(3000, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Binding_beyond_loopback_needs_api_keys()
    {
        var noKeys = ServerHarness.Options() with { Host = "0.0.0.0", ApiKeys = [] };
        var e = await Assert.ThrowsAsync<ArgumentException>(() => ServerHarness.StartAsync(noKeys));
        Assert.Contains("--api-key", e.Message);
        var name = await Assert.ThrowsAsync<ArgumentException>(() => ServerHarness.StartAsync(ServerHarness.Options() with { Host = "example.org" }));
        Assert.Contains("IP address", name.Message);

        await using var server = await ServerHarness.StartAsync(ServerHarness.Options() with { Host = "0.0.0.0" });
        using var http = ServerHarness.Http(server);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("models")).StatusCode);
        using var anonymous = ServerHarness.Http(server, key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("models")).StatusCode);
    }

    [Fact]
    public async Task A_damaged_cache_block_is_a_miss_and_is_written_again()
    {
        string data = ServerHarness.TempDirectory();
        string text = new string('q', 300);
        string body = JsonSerializer.Serialize(new { model = "deepseek-chat", messages = new[] { new { role = "user", content = text } }, max_tokens = 1 });
        async Task<int> Hits(SharpSeekServer s)
        {
            using var http = ServerHarness.Http(s);
            var r = await http.PostAsync("chat/completions", ServerHarness.Json(body));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            return doc.RootElement.GetProperty("usage").GetProperty("prompt_cache_hit_tokens").GetInt32();
        }
        await using (var s = await ServerHarness.StartAsync(ServerHarness.Options(data)))
        {
            await Hits(s);
            await s.ContextCache.FlushAsync();
        }
        var blocks = Directory.GetFiles(Path.Combine(data, "context-cache"), "*.kvb", SearchOption.AllDirectories);
        Assert.NotEmpty(blocks);
        foreach (string f in blocks)
        {
            var bytes = File.ReadAllBytes(f);
            bytes[^10] ^= 0x5A; // one flipped byte in the page: the header still says the right layout
            File.WriteAllBytes(f, bytes);
        }
        await using (var s = await ServerHarness.StartAsync(ServerHarness.Options(data)))
        {
            Assert.Equal(0, await Hits(s));
            Assert.True(s.ContextCache.CorruptBlocks >= 1);
            await s.ContextCache.FlushAsync();
        }
        await using (var s = await ServerHarness.StartAsync(ServerHarness.Options(data)))
        {
            Assert.True(await Hits(s) >= 256); // rewritten, read back from disk
            Assert.True(s.ContextCache.DiskReads >= 4);
            Assert.Equal(0, s.ContextCache.CorruptBlocks);
        }
    }
}
