using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary>Headless Chromium (Debian's package) driven by playwright-core through the web chat UI of a real server.</summary>
public sealed class WebChatBrowserTests
{
    [Fact]
    public async Task Deepthink_message_streams_reasoning_then_answer_and_a_screenshot_is_kept()
    {
        Assert.True(File.Exists("/usr/bin/chromium"), "Chromium is missing: apt-get install -y chromium");
        var options = ServerHarness.Options(engine: new EngineOptions { MaxContext = 4096, DefaultMaxReasoningTokens = 40 }) with { DefaultMaxTokens = 160 };
        await using var server = await ServerHarness.StartAsync(options);
        string screenshot = Path.Combine(ServerHarness.RepositoryRoot(), "artifacts", "screenshots", "web-chat-deepthink.png");
        if (File.Exists(screenshot)) File.Delete(screenshot);
        var (code, stdout, stderr) = await ServerHarness.RunNodeAsync("browser-chat.cjs", new Dictionary<string, string>
        {
            ["SHARPSEEK_BASE_URL"] = server.BaseAddress.ToString(),
            ["SHARPSEEK_API_KEY"] = ServerHarness.Key,
            ["SCREENSHOT_PATH"] = screenshot,
        }, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, stderr + stdout);
        using var report = JsonDocument.Parse(stdout);
        Assert.True(report.RootElement.GetProperty("reasoningLength").GetInt32() > 0);
        Assert.True(report.RootElement.GetProperty("answerLength").GetInt32() > 0);
        Assert.True(new FileInfo(screenshot).Length > 1000);
        var row = Assert.Single(await server.Store.LedgerAsync());
        Assert.Equal("deepseek-reasoner", row.Model);
        Assert.InRange(row.ReasoningTokens, 1, 40);
    }
}
