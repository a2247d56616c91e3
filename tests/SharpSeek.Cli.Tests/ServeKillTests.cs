using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SharpSeek.Server.Accounts;

namespace SharpSeek.Cli.Tests;

/// <summary>
/// <c>serve</c> killed with SIGKILL in the middle of a streaming load: after a restart on the same data folder every
/// request whose client saw the end of its stream has its ledger row, the balance is the grant less the ledger, and the
/// context cache still serves hits.
/// </summary>
public sealed partial class ServeKillTests
{
    private const string Key = "sk-kill-test-0123456789abcdef0123456789";

    [GeneratedRegex(@" at (http://\S+/) ")]
    private static partial Regex ServingAt();

    private sealed class Served(Process process, Uri address, StringBuilder log) : IDisposable
    {
        public Process Process { get; } = process;
        public Uri Address { get; } = address;
        public StringBuilder Log { get; } = log;

        public void Dispose()
        {
            try { if (!Process.HasExited) Process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            Process.Dispose();
        }
    }

    private static async Task<Served> StartAsync(string data)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "sharpseek.dll"), "serve", "--random", "--random-size", "tiny", "--port", "0", "--data", data, "--api-key", Key, "--slots", "4" })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var log = new StringBuilder();
        var address = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (log) log.AppendLine(e.Data);
            if (ServingAt().Match(e.Data) is { Success: true } m) address.TrySetResult(new Uri(m.Groups[1].Value));
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var served = new Served(p, new Uri("http://127.0.0.1/"), log);
        try
        {
            var uri = await address.Task.WaitAsync(TimeSpan.FromSeconds(120));
            return new Served(p, uri, log);
        }
        catch
        {
            served.Dispose();
            throw new InvalidOperationException("serve did not start: " + log);
        }
    }

    private static HttpClient Client(Uri address)
    {
        var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        return http;
    }

    private static string Prompt(int i) => $"request {i % 5}: " + new string((char)('a' + i % 5), 150);

    /// <summary>One streamed request; returns its id when the stream reached [DONE].</summary>
    private static async Task<string?> StreamOnce(HttpClient http, int i)
    {
        string body = JsonSerializer.Serialize(new
        {
            model = "deepseek-chat", messages = new[] { new { role = "user", content = Prompt(i) } }, max_tokens = 300, ignore_eos = true, stream = true,
        });
        using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") },
            HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK) return null;
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? id = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line == "data: [DONE]") return id;
            if (id is null && line.StartsWith("data: {", StringComparison.Ordinal))
            {
                using var doc = JsonDocument.Parse(line[6..]);
                if (doc.RootElement.TryGetProperty("id", out var v)) id = v.GetString();
            }
        }
        return null;
    }

    [Fact]
    public async Task Kill_9_during_a_streaming_load_loses_no_completed_request_and_leaves_the_cache_readable()
    {
        using var dir = new TempDirectory();
        string data = dir.File("data");
        var completed = new ConcurrentBag<string>();
        using (var server = await StartAsync(data))
        {
            using var http = Client(server.Address);
            using var stop = new CancellationTokenSource();
            int next = 0;
            var workers = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        if (await StreamOnce(http, Interlocked.Increment(ref next)) is { } id) completed.Add(id);
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or JsonException) { }
                }
            })).ToList();
            var sw = Stopwatch.StartNew();
            while (completed.Count < 20 && sw.Elapsed < TimeSpan.FromSeconds(90)) await Task.Delay(20);
            server.Process.Kill(); // SIGKILL, in the middle of the load: no shutdown code runs
            await server.Process.WaitForExitAsync();
            stop.Cancel();
            await Task.WhenAll(workers);
        }
        Assert.True(completed.Count >= 20, "the load completed too few requests");

        using (var store = AccountStore.OpenSqlite(data + ".accounts.db"))
        {
            var rows = (await store.LedgerAsync()).ToDictionary(r => r.RequestId);
            foreach (string id in completed)
            {
                Assert.True(rows.TryGetValue(id, out var row), $"completed request {id} has no ledger row");
                Assert.Equal(300, row!.CompletionTokens);
                Assert.True(row.CostNano > 0);
            }
        }

        using (var server = await StartAsync(data))
        {
            using var http = Client(server.Address);
            int hits = 0;
            for (int i = 0; i < 5; i++)
            {
                string body = JsonSerializer.Serialize(new { model = "deepseek-chat", messages = new[] { new { role = "user", content = Prompt(i) } }, max_tokens = 2 });
                var r = await http.PostAsync("chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
                hits += doc.RootElement.GetProperty("usage").GetProperty("prompt_cache_hit_tokens").GetInt32();
            }
            Assert.True(hits > 0, "no prompt of the load was a hit after the restart");

            // The reservations the killed run held are gone: the balance is the grant less the ledger.
            using var balance = JsonDocument.Parse(await http.GetStringAsync("user/balance"));
            decimal shown = decimal.Parse(balance.RootElement.GetProperty("balance_infos")[0].GetProperty("total_balance").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            server.Process.Kill();
            await server.Process.WaitForExitAsync();
            using var store = AccountStore.OpenSqlite(data + ".accounts.db");
            long spent = (await store.LedgerAsync()).Sum(r => r.CostNano);
            var account = (await store.FindAccountAsync(Key))!;
            Assert.Equal(10_000_000_000 - spent, account.TotalNano);
            Assert.Equal(Math.Round(account.TotalNano / 1_000_000_000m, 2, MidpointRounding.AwayFromZero), shown);
            Assert.Equal(0, await store.ReservedAsync(account.Id));
            Assert.DoesNotContain("fail:", server.Log.ToString());
        }
    }
}
