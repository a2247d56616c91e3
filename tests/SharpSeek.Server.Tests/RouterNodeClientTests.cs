using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Router;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary>The official `openai` npm client, unmodified, through <c>sharpseek router</c> over two replicas: plain, streaming, FIM, errors, and a tool loop.</summary>
public sealed class RouterNodeClientTests
{
    [Fact]
    public async Task Openai_npm_client_and_its_tool_loop_work_through_the_router()
    {
        var engine = new EngineOptions { MaxContext = 4096, MaxConcurrentSequences = 2, MaxQueuedRequests = 2 };
        await using var a = await ServerHarness.StartAsync(ServerHarness.Options(engine: engine));
        await using var b = await ServerHarness.StartAsync(ServerHarness.Options(engine: engine));
        await using var router = await RouterServer.StartAsync(new RouterOptions { Port = 0, Replicas = [a.BaseAddress, b.BaseAddress], Tokenizer = ServerHarness.TinyModel.Tokenizer });
        var env = new Dictionary<string, string>
        {
            ["SHARPSEEK_BASE_URL"] = router.BaseAddress.ToString(),
            ["SHARPSEEK_API_KEY"] = ServerHarness.Key,
            // Two replicas of 2 slots + 2 queue places: 16 at once overflow both, so the router answers 503. Each burst
            // request is long enough (1,000 tokens) that none finishes before the last one arrives, even on a fast box.
            ["SHARPSEEK_BURST"] = "16",
            ["SHARPSEEK_BURST_TOKENS"] = "1000",
            ["SHARPSEEK_TOOL_SCHEMA"] = ToolCallingClientTests.WeatherSchema,
        };
        var (code, stdout, stderr) = await ServerHarness.RunNodeAsync("openai-client.cjs", env, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, stderr + stdout);
        using (var report = JsonDocument.Parse(stdout))
            Assert.True(report.RootElement.GetProperty("burst").TryGetProperty("503", out _), "a burst past both replicas must see 503s: " + stdout);
        (code, stdout, stderr) = await ServerHarness.RunNodeAsync("tool-loop.cjs", env, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, stderr + stdout);
        using var loop = JsonDocument.Parse(stdout);
        Assert.Equal("tool_calls", loop.RootElement.GetProperty("streaming").GetProperty("finish").GetString());
        Assert.True(a.Engine.GeneratedTokens > 0 && b.Engine.GeneratedTokens > 0, "both replicas should have served requests");
    }
}
