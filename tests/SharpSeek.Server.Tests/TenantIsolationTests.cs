using System.Net;
using System.Text;
using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary>Accounts do not see each other: the context cache is partitioned per account (or share group), and one key cannot take every slot.</summary>
public sealed class TenantIsolationTests
{
    private const string KeyB = "sk-tenant-b-0123456789abcdef0123456789ab";
    private const string KeyC = "sk-tenant-c-0123456789abcdef0123456789ab";
    private const string KeyD = "sk-tenant-d-0123456789abcdef0123456789ab";

    private static string Prompt(int seed)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder();
        while (sb.Length < 700) sb.Append((char)('a' + rng.Next(26)));
        return sb.ToString();
    }

    private static async Task<int> CachedTokens(HttpClient http, string content)
    {
        var body = JsonSerializer.Serialize(new { model = "deepseek-chat", messages = new[] { new { role = "user", content } }, max_tokens = 2 });
        var r = await http.PostAsync("chat/completions", ServerHarness.Json(body));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("usage").GetProperty("prompt_cache_hit_tokens").GetInt32();
    }

    [Fact]
    public async Task Another_account_never_hits_a_prompt_it_did_not_send_but_a_share_group_does()
    {
        string data = ServerHarness.TempDirectory();
        var options = ServerHarness.Options(data) with
        {
            ApiKeys = [ServerHarness.Key, KeyB, KeyC, KeyD],
            CacheShareGroups = new Dictionary<string, IReadOnlyList<string>>
            {
                ["team"] = [SharpSeekServer.AccountNameOf(KeyC), SharpSeekServer.AccountNameOf(KeyD)],
            },
        };
        string prompt = Prompt(7);
        await using (var server = await ServerHarness.StartAsync(options))
        {
            using var a = ServerHarness.Http(server);
            using var b = ServerHarness.Http(server, KeyB);
            using var c = ServerHarness.Http(server, KeyC);
            using var d = ServerHarness.Http(server, KeyD);

            Assert.Equal(0, await CachedTokens(a, prompt));
            Assert.Equal(0, await CachedTokens(b, prompt)); // A's blocks are in memory, but not in B's partition
            int aAgain = await CachedTokens(a, prompt);
            Assert.True(aAgain >= 640, $"A's second request hit {aAgain} tokens");
            Assert.Equal(aAgain, await CachedTokens(b, prompt)); // B's own first request is now cached for B

            // C and D share a partition: D hits what C sent; A (outside the group) does not hit C's prompt.
            string team = Prompt(8);
            Assert.Equal(0, await CachedTokens(c, team));
            Assert.True(await CachedTokens(d, team) >= 640);
            Assert.Equal(0, await CachedTokens(a, team));
            await server.ContextCache.FlushAsync();
        }
        // The disk tier is partitioned too: after a restart (memory empty) B still hits only what B sent.
        await using (var server = await ServerHarness.StartAsync(options))
        {
            using var b = ServerHarness.Http(server, KeyB);
            using var d = ServerHarness.Http(server, KeyD);
            Assert.True(await CachedTokens(b, prompt) >= 640);
            Assert.Equal(0, await CachedTokens(b, Prompt(8))); // the team's prompt, from disk, is not B's
            Assert.True(await CachedTokens(d, Prompt(8)) >= 640);
            Assert.True(server.ContextCache.DiskReads > 0);
        }
    }

    private static HttpRequestMessage Long() => new(HttpMethod.Post, "chat/completions")
    {
        Content = ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"go on"}],"max_tokens":16000,"ignore_eos":true,"stream":true}"""),
    };

    [Fact]
    public async Task One_key_flooding_cannot_take_every_slot_and_past_its_gate_gets_429()
    {
        // A generation that lasts: the small model writing 16,000 tokens (disconnected long before the end).
        using var small = ServedModel.CreateRandom(RandomModelSize.Small, seed: 3, maxPositions: 16384);
        var options = ServerHarness.Options(engine: new EngineOptions { MaxContext = 16384, MaxConcurrentSequences = 2, MaxQueuedRequests = 4 }) with
        {
            ApiKeys = [ServerHarness.Key, KeyB],
            MaxRunningPerKey = null, // the default: slots - 1 = 1
            MaxQueuedPerKey = 1,
        };
        await using var server = await SharpSeekServer.StartAsync(options, small);
        Assert.Equal(1, server.State.KeyLimiter.RunningPerKey);
        using var a = ServerHarness.Http(server);
        using var b = ServerHarness.Http(server, KeyB);
        using var stop = new CancellationTokenSource();

        // A floods: one runs, one waits at A's gate (keep-alives), the rest are 429 at once.
        var first = await a.SendAsync(Long(), HttpCompletionOption.ResponseHeadersRead, stop.Token);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await CachingAndAdmissionTests.WaitUntil(() => server.Engine.RunningSequences == 1);
        var second = a.SendAsync(Long(), HttpCompletionOption.ResponseHeadersRead, stop.Token);
        await CachingAndAdmissionTests.WaitUntil(() => server.State.KeyLimiter.Waiting == 1);
        for (int i = 0; i < 3; i++)
        {
            var refused = await a.SendAsync(Long(), stop.Token);
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Contains("too_many_concurrent_requests", await refused.Content.ReadAsStringAsync());
        }
        Assert.Equal(1, server.Engine.RunningSequences); // A's waiter did not take the free slot

        // B is served meanwhile, on the slot A could not take.
        var r = await b.PostAsync("chat/completions", ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":3}"""));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        await CachingAndAdmissionTests.WaitUntil(() => server.Engine.RunningSequences == 1); // B's sequence is reaped right after its answer
        var accountA = await server.Store.FindAccountAsync(ServerHarness.Key);
        Assert.Empty(await server.Store.LedgerAsync(accountA!.Id)); // A's first is still generating
        Assert.Equal(1, server.State.KeyLimiter.Waiting); // and A's second still waits at A's gate

        stop.Cancel();
        first.Dispose();
        try { (await second).Dispose(); } catch (OperationCanceledException) { }
        await CachingAndAdmissionTests.WaitUntil(() => server.Engine.RunningSequences == 0 && server.State.InFlight == 0);
        Assert.Equal(0, server.State.KeyLimiter.Waiting);
    }
}
