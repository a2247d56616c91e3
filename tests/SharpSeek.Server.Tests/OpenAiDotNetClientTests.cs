using System.ClientModel;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary>The official OpenAI .NET SDK, unmodified, against a real server on loopback.</summary>
public sealed class OpenAiDotNetClientTests : IAsyncLifetime
{
    private SharpSeekServer _server = null!;

    public async Task InitializeAsync() => _server = await ServerHarness.StartAsync();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private ChatClient Client(string model = "deepseek-chat", string key = ServerHarness.Key) =>
        new(model, new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(_server.BaseAddress, "v1"), NetworkTimeout = TimeSpan.FromSeconds(60) });

    [Fact]
    public async Task Non_streaming_completion_parses_with_usage()
    {
        var result = await Client().CompleteChatAsync([new UserChatMessage("Hello")], new ChatCompletionOptions { MaxOutputTokenCount = 16, Temperature = 0.5f });
        ChatCompletion c = result.Value;
        Assert.Equal(ChatMessageRole.Assistant, c.Role);
        Assert.True(c.FinishReason is ChatFinishReason.Stop or ChatFinishReason.Length);
        Assert.InRange(c.Usage.OutputTokenCount, 1, 16);
        Assert.True(c.Usage.InputTokenCount > 0);
        Assert.Equal(c.Usage.InputTokenCount + c.Usage.OutputTokenCount, c.Usage.TotalTokenCount);
        Assert.Equal("deepseek-chat", c.Model);
        Assert.StartsWith("chatcmpl-", c.Id);
        Assert.True(c.CreatedAt > DateTimeOffset.UtcNow.AddMinutes(-5));
    }

    [Fact]
    public async Task Streaming_completion_parses_text_and_usage()
    {
        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Client().CompleteChatStreamingAsync([new UserChatMessage("Stream please")], new ChatCompletionOptions { MaxOutputTokenCount = 20 }))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
            finish ??= update.FinishReason;
        }
        Assert.NotNull(finish);
        Assert.NotNull(usage);
        Assert.InRange(usage!.OutputTokenCount, 1, 20);
    }

    [Fact]
    public async Task Extensions_AI_chat_client_over_the_sdk_works_streaming_and_not()
    {
        IChatClient chat = Client().AsIChatClient();
        var response = await chat.GetResponseAsync("Hi", new ChatOptions { MaxOutputTokens = 10 });
        Assert.NotNull(response.Usage);
        Assert.InRange(response.Usage!.OutputTokenCount ?? 0, 1, 10);
        int updates = 0;
        await foreach (var u in chat.GetStreamingResponseAsync("Hi again", new ChatOptions { MaxOutputTokens = 10 })) updates++;
        Assert.True(updates >= 2);
    }

    [Fact]
    public async Task Reasoner_returns_reasoning_tokens_in_usage()
    {
        var result = await Client("deepseek-reasoner").CompleteChatAsync([new UserChatMessage("Why is the sky blue?")], new ChatCompletionOptions { MaxOutputTokenCount = 24 });
        Assert.True(result.Value.Usage.OutputTokenDetails.ReasoningTokenCount > 0);
    }

    [Fact]
    public async Task Wrong_key_is_401()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Client(key: "sk-wrong").CompleteChatAsync([new UserChatMessage("x")]));
        Assert.Equal(401, e.Status);
    }

    [Fact]
    public async Task Out_of_range_temperature_is_422()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Client().CompleteChatAsync([new UserChatMessage("x")], new ChatCompletionOptions { Temperature = 3.5f }));
        Assert.Equal(422, e.Status);
        Assert.Contains("temperature", e.Message);
    }

    [Fact]
    public async Task Unknown_model_is_400()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Client("gpt-4o").CompleteChatAsync([new UserChatMessage("x")]));
        Assert.Equal(400, e.Status);
    }
}
