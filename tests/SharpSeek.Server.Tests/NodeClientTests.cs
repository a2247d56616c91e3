using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary>The `openai` npm client and a load generator, each in a second process (node), against a real server.</summary>
public sealed class NodeClientTests
{
    [Fact]
    public async Task Openai_npm_client_parses_everything_and_overload_is_429_or_503()
    {
        var options = ServerHarness.Options(engine: new EngineOptions { MaxContext = 4096, MaxConcurrentSequences = 2, MaxQueuedRequests = 2 });
        await using var server = await ServerHarness.StartAsync(options);
        var (code, stdout, stderr) = await ServerHarness.RunNodeAsync("openai-client.cjs", new Dictionary<string, string>
        {
            ["SHARPSEEK_BASE_URL"] = server.BaseAddress.ToString(),
            ["SHARPSEEK_API_KEY"] = ServerHarness.Key,
            ["SHARPSEEK_BURST"] = "12",
            ["SHARPSEEK_BURST_TOKENS"] = "1000", // long enough that no burst request ends before the last one arrives
        }, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, stderr + stdout);
        using var report = JsonDocument.Parse(stdout);
        var burst = report.RootElement.GetProperty("burst");
        Assert.True(burst.TryGetProperty("503", out var refused) && refused.GetInt32() > 0, "12 requests on 2 slots + 2 queue places must see 503s: " + burst);
    }

    [Fact]
    public async Task Load_at_ten_times_capacity_ends_every_request_and_the_ledger_has_one_row_per_admitted_request()
    {
        // Capacity = 2 slots + 2 queue places = 4; the load is 40 concurrent requests from a second process.
        var options = ServerHarness.Options(engine: new EngineOptions { MaxContext = 4096, MaxConcurrentSequences = 2, MaxQueuedRequests = 2 }) with
        {
            RequestsPerSecondPerKey = 200, BurstPerKey = 30,
        };
        await using var server = await ServerHarness.StartAsync(options);
        var (code, stdout, stderr) = await ServerHarness.RunNodeAsync("load-test.cjs", new Dictionary<string, string>
        {
            ["SHARPSEEK_BASE_URL"] = server.BaseAddress.ToString(),
            ["SHARPSEEK_API_KEY"] = ServerHarness.Key,
            ["LOAD_REQUESTS"] = "40",
            ["LOAD_DEADLINE_MS"] = "60000",
        }, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, stderr + stdout);
        using var report = JsonDocument.Parse(stdout);
        int admitted = report.RootElement.GetProperty("admitted").GetInt32();
        var statuses = report.RootElement.GetProperty("statuses");
        Assert.True(admitted >= 4, stdout);
        Assert.True(statuses.TryGetProperty("503", out _) || statuses.TryGetProperty("429", out _), stdout);
        await CachingAndAdmissionTests.WaitUntil(() => server.Engine.RunningSequences == 0 && server.Engine.QueuedRequests == 0);
        var ledger = await CachingAndAdmissionTests.WaitForLedger(server, admitted);
        Assert.Equal(admitted, ledger.Count);
        Assert.Equal(ledger.Count, ledger.Select(r => r.RequestId).Distinct().Count());
        Assert.All(ledger, r => Assert.Equal(64, r.CompletionTokens));
    }
}
