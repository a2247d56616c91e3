using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using SharpSeek.Server.Accounts;
using Xunit.Abstractions;

namespace SharpSeek.Router.Tests;

/// <summary>
/// Three <c>serve</c> processes sharing one PostgreSQL ledger behind the router; one is killed with SIGKILL under load.
/// Every request must end (200, or a clean error body) within its timeout, every answered request must have exactly
/// one ledger row, and the balance must equal the grant minus the ledger's sum.
/// </summary>
public sealed class KillReplicaTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Killing_a_replica_under_load_loses_no_request_and_bills_each_answer_once()
    {
        using var pg = PostgresServer.Start();
        string key = AccountStore.NewKey();
        var root = Directory.CreateTempSubdirectory("sharpseek-router-kill-").FullName;
        var replicas = new List<ServeProcess>();
        try
        {
            for (int i = 0; i < 3; i++) replicas.Add(await ServeProcess.StartAsync(Path.Combine(root, $"replica{i}"), pg.ConnectionString, key));
            await using var router = await RouterServer.StartAsync(new RouterOptions
            {
                Port = 0, Replicas = replicas.Select(r => r.Address).ToList(), Tokenizer = Replicas.Model.Tokenizer, HealthInterval = TimeSpan.FromMilliseconds(500),
            });
            using var http = new HttpClient { BaseAddress = router.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

            var answered = new ConcurrentBag<string>();
            var outcomes = new ConcurrentDictionary<string, int>();
            int sent = 0;
            async Task Worker(int w)
            {
                for (int i = 0; i < 10; i++)
                {
                    Interlocked.Increment(ref sent);
                    string body = $$"""{"model":"deepseek-chat","messages":[{"role":"user","content":"worker {{w}} request {{i}}"}],"max_tokens":40,"ignore_eos":true}""";
                    using var response = await http.PostAsync("chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
                    string text = await response.Content.ReadAsStringAsync();
                    var json = JsonNode.Parse(text)!; // every answer, error or not, is a JSON body
                    // A request queued on the killed replica already had its 200 and keep-alive lines: its error follows them.
                    if (response.StatusCode == HttpStatusCode.OK && json["id"] is not null) answered.Add((string)json["id"]!);
                    else Assert.NotNull(json["error"]?["message"]);
                    outcomes.AddOrUpdate(((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
                }
            }
            var load = Enumerable.Range(0, 6).Select(Worker).ToArray();
            while (Volatile.Read(ref sent) < 15) await Task.Delay(20);
            replicas[1].Kill();
            await Task.WhenAll(load).WaitAsync(TimeSpan.FromMinutes(3));
            output.WriteLine($"outcomes: {string.Join(", ", outcomes.Select(kv => $"{kv.Key}×{kv.Value}"))}; router retries {router.Retries}");
            Assert.Equal(60, outcomes.Values.Sum());
            Assert.True(answered.Count >= 50, $"only {answered.Count} of 60 answered");

            using var store = AccountStore.OpenPostgres(pg.ConnectionString);
            var account = (await store.FindAccountAsync(key))!;
            var ledger = await store.LedgerAsync(account.Id);
            foreach (string id in answered) Assert.Single(ledger, r => r.RequestId == id);
            Assert.Equal(ledger.Count, ledger.Select(r => r.RequestId).Distinct().Count());
            Assert.Equal(10_000_000_000L - ledger.Sum(r => r.CostNano), account.TotalNano);
        }
        finally
        {
            foreach (var r in replicas) r.Dispose();
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }
}

/// <summary>A stream whose replica is killed mid-answer ends with an error event instead of hanging or stopping silently.</summary>
public sealed class CutStreamTests
{
    [Fact]
    public async Task A_stream_cut_by_a_killed_replica_ends_with_an_error_event()
    {
        using var pg = PostgresServer.Start();
        string key = SharpSeek.Server.Accounts.AccountStore.NewKey();
        var root = Directory.CreateTempSubdirectory("sharpseek-router-cut-").FullName;
        using var replica = await ServeProcess.StartAsync(Path.Combine(root, "r"), pg.ConnectionString, key);
        try
        {
            await using var router = await RouterServer.StartAsync(new RouterOptions { Port = 0, Replicas = [replica.Address], Tokenizer = Replicas.Model.Tokenizer });
            using var http = new HttpClient { BaseAddress = router.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            const string body = """{"model":"deepseek-chat","messages":[{"role":"user","content":"go on"}],"max_tokens":3000,"ignore_eos":true,"stream":true}""";
            using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "chat/completions") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") },
                HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var lines = new List<string>();
            while (lines.Count(l => l.StartsWith("data: {", StringComparison.Ordinal)) < 3) lines.Add((await reader.ReadLineAsync())!);
            replica.Kill();
            string rest = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
            var last = rest.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
            Assert.Contains("\"replica_lost\"", last);
            Assert.DoesNotContain("[DONE]", rest);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }
}
