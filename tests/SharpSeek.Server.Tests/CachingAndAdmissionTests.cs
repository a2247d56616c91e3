using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

public sealed class CachingAndAdmissionTests
{
    private static string LongUserText(int bytes, int seed)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder(bytes);
        while (sb.Length < bytes) sb.Append((char)('a' + rng.Next(26)));
        return sb.ToString();
    }

    private static async Task<JsonElement> Usage(HttpClient http, string content)
    {
        var body = JsonSerializer.Serialize(new { model = "deepseek-chat", messages = new[] { new { role = "user", content } }, max_tokens = 4 });
        var r = await http.PostAsync("chat/completions", ServerHarness.Json(body));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("usage").Clone();
    }

    [Fact]
    public async Task Same_2000_token_prompt_hits_at_least_1984_tokens_also_after_a_restart()
    {
        string data = ServerHarness.TempDirectory();
        // The byte tokenizer makes one token per byte; the template adds BOS, <｜User｜> and <｜Assistant｜>.
        string text = LongUserText(1997, 42);
        await using (var server = await ServerHarness.StartAsync(ServerHarness.Options(data)))
        {
            using var http = ServerHarness.Http(server);
            var first = await Usage(http, text);
            Assert.Equal(2000, first.GetProperty("prompt_tokens").GetInt32());
            Assert.Equal(0, first.GetProperty("prompt_cache_hit_tokens").GetInt32());
            var second = await Usage(http, text);
            Assert.True(second.GetProperty("prompt_cache_hit_tokens").GetInt32() >= 1984);
            Assert.Equal(2000 - second.GetProperty("prompt_cache_hit_tokens").GetInt32(), second.GetProperty("prompt_cache_miss_tokens").GetInt32());
            Assert.Equal(second.GetProperty("prompt_cache_hit_tokens").GetInt32(), second.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        }
        await using (var server = await ServerHarness.StartAsync(ServerHarness.Options(data)))
        {
            using var http = ServerHarness.Http(server);
            var afterRestart = await Usage(http, text);
            Assert.True(afterRestart.GetProperty("prompt_cache_hit_tokens").GetInt32() >= 1984);
            Assert.True(server.ContextCache.DiskReads >= 31);
            // Cost in the ledger follows the hit/miss/output prices (chat: 0.5 / 2 / 8 CNY per million).
            var ledger = await server.Store.LedgerAsync(); // the ledger outlives the restart: three requests, three rows
            Assert.Equal(3, ledger.Count);
            var row = ledger[^1];
            Assert.Equal(server.State.Options.ChatPrice.CostNano(row.CacheHitTokens, row.CacheMissTokens, row.CompletionTokens), row.CostNano);
            Assert.True(row.CacheHitTokens >= 1984);
        }
    }

    [Fact]
    public async Task Prompts_shorter_than_a_block_are_not_cached()
    {
        await using var server = await ServerHarness.StartAsync();
        using var http = ServerHarness.Http(server);
        string text = LongUserText(50, 1);
        await Usage(http, text);
        var again = await Usage(http, text);
        Assert.Equal(0, again.GetProperty("prompt_cache_hit_tokens").GetInt32());
    }

    private static string LongRequest(bool stream, int maxTokens = 4000) => JsonSerializer.Serialize(new
    {
        model = "deepseek-chat",
        messages = new[] { new { role = "user", content = "go on forever" } },
        max_tokens = maxTokens,
        ignore_eos = true,
        stream,
    });

    [Fact]
    public async Task Queued_requests_get_keep_alives_then_their_answer_and_past_capacity_is_503()
    {
        // The holder must still be generating when the checks run: the batched engine writes the tiny model's 4,000
        // tokens in well under a second, so this test holds the slot with the small model and a 16,000-token answer
        // (it is disconnected long before the end).
        var options = ServerHarness.Options(engine: new EngineOptions { MaxContext = 16384, MaxConcurrentSequences = 1, MaxQueuedRequests = 2 });
        using var small = ServedModel.CreateRandom(RandomModelSize.Small, seed: 3, maxPositions: 16384);
        await using var server = await SharpSeekServer.StartAsync(options, small);
        using var http = ServerHarness.Http(server);
        using var hold = new CancellationTokenSource();
        var holder = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "chat/completions") { Content = ServerHarness.Json(LongRequest(stream: true, maxTokens: 16000)) },
            HttpCompletionOption.ResponseHeadersRead, hold.Token);
        await WaitUntil(() => server.Engine.RunningSequences == 1);

        // Non-streaming waiter: blank lines first.
        var plainTask = http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "chat/completions")
        {
            Content = ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"q"}],"max_tokens":3}"""),
        }, HttpCompletionOption.ResponseHeadersRead);
        // Streaming waiter: SSE comments.
        var sseTask = http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "chat/completions")
        {
            Content = ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"q"}],"max_tokens":3,"stream":true}"""),
        }, HttpCompletionOption.ResponseHeadersRead);
        await WaitUntil(() => server.Engine.QueuedRequests == 2);

        var busy = await http.PostAsync("chat/completions", ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"q"}]}"""));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
        Assert.Contains("server_busy", await busy.Content.ReadAsStringAsync());

        var plain = await plainTask.WaitAsync(TimeSpan.FromSeconds(10));
        var sse = await sseTask.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        var plainBody = await plain.Content.ReadAsStreamAsync();
        var sseBody = await sse.Content.ReadAsStreamAsync();
        Assert.Equal((byte)'\n', (byte)plainBody.ReadByte());
        var sseStart = new byte[14];
        await sseBody.ReadExactlyAsync(sseStart);
        Assert.Equal(": keep-alive\n\n", Encoding.ASCII.GetString(sseStart));

        // Free the slot by disconnecting the holder: its generation stops and the waiters run.
        hold.Cancel();
        holder.Dispose();
        string rest = await new StreamReader(plainBody).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        using var doc = JsonDocument.Parse(rest);
        Assert.Equal("chat.completion", doc.RootElement.GetProperty("object").GetString());
        string sseRest = await new StreamReader(sseBody).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.EndsWith("data: [DONE]\n\n", sseRest);

        await WaitUntil(() => server.Engine.RunningSequences == 0 && server.Engine.QueuedRequests == 0);
        var ledger = await WaitForLedger(server, 3);
        Assert.Equal(3, ledger.Count); // holder (cancelled) + two waiters; the 503 was never admitted
        var cancelled = Assert.Single(ledger, r => r.Outcome == "cancelled");
        Assert.True(cancelled.CompletionTokens < 4000);
    }

    [Fact]
    public async Task Client_disconnect_stops_generation_at_once()
    {
        // A generation that cannot finish before the disconnect (the tiny model would write 4,000 tokens in a blink).
        using var small = ServedModel.CreateRandom(RandomModelSize.Small, seed: 3, maxPositions: 16384);
        await using var server = await SharpSeekServer.StartAsync(ServerHarness.Options(engine: new EngineOptions { MaxContext = 16384 }), small);
        using var http = ServerHarness.Http(server);
        using var cts = new CancellationTokenSource();
        var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "chat/completions") { Content = ServerHarness.Json(LongRequest(stream: true, maxTokens: 16000)) },
            HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[16];
        await body.ReadExactlyAsync(buffer);
        long before = server.Engine.GeneratedTokens;
        cts.Cancel();
        response.Dispose();
        var sw = Stopwatch.StartNew();
        await WaitUntil(() => server.Engine.RunningSequences == 0);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5));
        var row = Assert.Single(await WaitForLedger(server, 1));
        Assert.Equal("cancelled", row.Outcome);
        Assert.True(row.CompletionTokens < 16000);
        long after = server.Engine.GeneratedTokens;
        await Task.Delay(300);
        Assert.Equal(after, server.Engine.GeneratedTokens);
        Assert.True(after >= before);
    }

    [Fact]
    public async Task Rate_limit_is_429_and_zero_balance_is_402()
    {
        var options = ServerHarness.Options() with { RequestsPerSecondPerKey = 0.01, BurstPerKey = 2 };
        await using var server = await ServerHarness.StartAsync(options);
        using var http = ServerHarness.Http(server);
        const string body = """{"model":"deepseek-chat","messages":[{"role":"user","content":"q"}],"max_tokens":2}""";
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("chat/completions", ServerHarness.Json(body))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("chat/completions", ServerHarness.Json(body))).StatusCode);
        var limited = await http.PostAsync("chat/completions", ServerHarness.Json(body));
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Contains("rate_limit", await limited.Content.ReadAsStringAsync());

        long poor = server.Store.EnsureKey("sk-poor", "poor", 0);
        using var poorHttp = ServerHarness.Http(server, "sk-poor");
        var r = await poorHttp.PostAsync("chat/completions", ServerHarness.Json(body));
        Assert.Equal(HttpStatusCode.PaymentRequired, r.StatusCode);
        await server.Store.TopUpAsync(poor, 1_000_000_000);
        Assert.Equal(HttpStatusCode.OK, (await poorHttp.PostAsync("chat/completions", ServerHarness.Json(body))).StatusCode);
        using var balance = JsonDocument.Parse(await poorHttp.GetStringAsync("user/balance"));
        var info = balance.RootElement.GetProperty("balance_infos")[0];
        Assert.Equal("0.00", info.GetProperty("granted_balance").GetString());
        var account = await server.Store.GetAccountAsync(poor);
        var poorRow = Assert.Single(await server.Store.LedgerAsync(poor));
        Assert.True(poorRow.CostNano > 0);
        Assert.Equal(1_000_000_000 - poorRow.CostNano, account!.ToppedUpNano);
        Assert.Equal(0, account.GrantedNano);
        Assert.Equal(3, (await server.Store.LedgerAsync()).Count);
    }

    internal static async Task WaitUntil(Func<bool> condition, double seconds = 20)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(seconds)) throw new TimeoutException("condition not reached");
            await Task.Delay(10);
        }
    }

    internal static async Task<IReadOnlyList<SharpSeek.Server.Accounts.UsageRecord>> WaitForLedger(SharpSeekServer server, int rows)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var ledger = await server.Store.LedgerAsync();
            if (ledger.Count >= rows || sw.Elapsed > TimeSpan.FromSeconds(20)) return ledger;
            await Task.Delay(20);
        }
    }
}
