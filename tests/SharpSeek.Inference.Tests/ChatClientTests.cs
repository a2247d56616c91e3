using Microsoft.Extensions.AI;

namespace SharpSeek.Inference.Tests;

public sealed class ChatClientTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    [Fact]
    public async Task Chat_client_answers_and_reports_usage()
    {
        using var engine = fixture.CreateEngine();
        IChatClient client = new InferenceChatClient(engine);
        var response = await client.GetResponseAsync("Hello there", new ChatOptions { Temperature = 0, MaxOutputTokens = 12 });
        Assert.NotNull(response.Usage);
        Assert.True(response.Usage!.InputTokenCount > 0);
        Assert.InRange(response.Usage.OutputTokenCount ?? 0, 1, 12);
        Assert.Equal(ChatRole.Assistant, response.Messages[0].Role);
        Assert.Same(engine, client.GetService<InferenceEngine>());
    }

    [Fact]
    public async Task Reasoner_streams_reasoning_before_text()
    {
        using var engine = fixture.CreateEngine(new EngineOptions { MaxContext = 1024, DefaultMaxReasoningTokens = 8, SpeculativeDecoding = false });
        IChatClient client = new InferenceChatClient(engine, "deepseek-reasoner");
        var kinds = new List<string>();
        UsageDetails? usage = null;
        await foreach (var update in client.GetStreamingResponseAsync("Think about it", new ChatOptions { MaxOutputTokens = 40, Seed = 4 }))
            foreach (var c in update.Contents)
            {
                if (c is TextReasoningContent) kinds.Add("r");
                else if (c is TextContent) kinds.Add("t");
                else if (c is UsageContent u) usage = u.Details;
            }
        Assert.NotNull(usage);
        Assert.InRange(usage!.ReasoningTokenCount ?? -1, 1, 8);
        Assert.StartsWith("r", string.Concat(kinds));
        int firstText = kinds.IndexOf("t");
        if (firstText >= 0) Assert.DoesNotContain("r", kinds.Skip(firstText));
    }
}
