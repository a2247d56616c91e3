using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace SharpSeek.Router.Tests;

/// <summary>
/// The router's reason to exist: 30 conversations × 4 turns (each turn extends the last prompt) through a router
/// over 3 replicas keep their context-cache hits, measured against one server alone and against round-robin routing.
/// </summary>
public sealed class PrefixRoutingTests(ITestOutputHelper output)
{
    private const int Conversations = 30, Turns = 4;

    /// <summary>Runs the workload against <paramref name="baseAddress"/>; returns cached / prompt tokens over every turn after the first.</summary>
    private static async Task<double> HitRateAsync(Uri baseAddress)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(120) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Replicas.Key);
        long cached = 0, prompt = 0;
        // Three conversations at a time, turn by turn, as a few users would send them.
        for (int start = 0; start < Conversations; start += 3)
        {
            await Task.WhenAll(Enumerable.Range(start, 3).Select(async c =>
            {
                var messages = new JsonArray
                {
                    new JsonObject { ["role"] = "system", ["content"] = $"Conversation {c}. " + string.Concat(Enumerable.Repeat($"Context line {c} for this user. ", 8)) },
                };
                for (int turn = 0; turn < Turns; turn++)
                {
                    messages.Add(new JsonObject { ["role"] = "user", ["content"] = $"Question {turn} of conversation {c}: " + new string((char)('a' + turn), 70) });
                    var body = new JsonObject { ["model"] = "deepseek-chat", ["messages"] = messages.DeepClone(), ["max_tokens"] = 3, ["temperature"] = 0 };
                    var response = await http.PostAsync("chat/completions", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
                    string text = await response.Content.ReadAsStringAsync();
                    Assert.True(response.IsSuccessStatusCode, text);
                    var json = JsonNode.Parse(text)!;
                    messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = (string?)json["choices"]![0]!["message"]!["content"] ?? "" });
                    if (turn == 0) continue;
                    var usage = json["usage"]!;
                    Interlocked.Add(ref cached, (long)usage["prompt_cache_hit_tokens"]!);
                    Interlocked.Add(ref prompt, (long)usage["prompt_tokens"]!);
                }
            }));
        }
        return (double)cached / prompt;
    }

    private static async Task<double> ThroughRouterAsync(RoutingPolicy policy, string postgres)
    {
        await using var replicas = await Replicas.StartAsync(3, postgres);
        await using var router = await RouterServer.StartAsync(new RouterOptions
        {
            Port = 0, Replicas = replicas.Addresses, Policy = policy, Tokenizer = Replicas.Model.Tokenizer,
        });
        double rate = await HitRateAsync(router.BaseAddress);
        Assert.All(router.Replicas, r => Assert.True(r.Routed > 0, $"{r.Prefix} got no request: the load is not spread"));
        return rate;
    }

    [Fact]
    public async Task Prefix_aware_routing_keeps_the_cache_hits_of_one_server_and_round_robin_loses_them()
    {
        // The replicas share one PostgreSQL ledger, as a deployment's would.
        using var pg = PostgresServer.Start();
        double single;
        await using (var one = await Replicas.StartAsync(1, pg.ConnectionString)) single = await HitRateAsync(one.Servers[0].BaseAddress);
        double prefix = await ThroughRouterAsync(RoutingPolicy.PrefixAware, pg.ConnectionString);
        double roundRobin = await ThroughRouterAsync(RoutingPolicy.RoundRobin, pg.ConnectionString);
        output.WriteLine($"prompt-cache hit rate, turns 2–{Turns} of {Conversations} conversations: one server {single:P1}, " +
                         $"router (prefix-aware, 3 replicas) {prefix:P1} = {prefix / single:P0} of one server, round-robin {roundRobin:P1}");
        Assert.True(single > 0.5, $"the workload must hit the cache on one server ({single:P1})");
        Assert.True(prefix >= 0.9 * single, $"prefix-aware routing {prefix:P1} < 90% of one server's {single:P1}");
        Assert.True(roundRobin < 0.8 * prefix, $"round-robin {roundRobin:P1} is not measurably below prefix-aware {prefix:P1}");
    }
}
