using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using OpenAI;
using OpenAI.Chat;

namespace SharpSeek.Router.Tests;

/// <summary>What a client sees when replicas go away or fill up, and that an unmodified official client works through the router.</summary>
public sealed class FailoverTests
{
    private static StringContent Chat(string text, int maxTokens = 4) =>
        new($$"""{"model":"deepseek-chat","messages":[{"role":"user","content":"{{text}}"}],"max_tokens":{{maxTokens}}}""", Encoding.UTF8, "application/json");

    private static HttpClient Client(RouterServer router)
    {
        var http = new HttpClient { BaseAddress = router.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Replicas.Key);
        return http;
    }

    [Fact]
    public async Task A_replica_that_goes_away_is_taken_out_and_its_requests_answered_by_another()
    {
        var replicas = await Replicas.StartAsync(2);
        await using var router = await RouterServer.StartAsync(new RouterOptions
        {
            Port = 0, Replicas = replicas.Addresses, Tokenizer = Replicas.Model.Tokenizer, HealthInterval = TimeSpan.FromMinutes(10),
        });
        using var http = Client(router);
        for (int i = 0; i < 4; i++) Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("chat/completions", Chat($"warm {i}"))).StatusCode);
        Assert.All(router.Replicas, r => Assert.True(r.Routed > 0));

        // Replica 0 stops; the health check is far off, so only the failed forward can notice.
        await replicas.Servers[0].DisposeAsync();
        replicas.Servers.RemoveAt(0);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 6).Select(async i => (await http.PostAsync("chat/completions", Chat($"after {i}"))).StatusCode));
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.False(router.Replicas[0].Healthy);
        Assert.True(router.Retries >= 1);

        // With no replica left the router answers 503 with Retry-After in the API's error shape.
        await replicas.DisposeAsync();
        var none = await http.PostAsync("chat/completions", Chat("nobody"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, none.StatusCode);
        Assert.NotNull(none.Headers.RetryAfter);
        Assert.Contains("server_busy", await none.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_openai_dotnet_sdk_streams_and_completes_through_the_router_unchanged()
    {
        await using var replicas = await Replicas.StartAsync(2);
        await using var router = await RouterServer.StartAsync(new RouterOptions { Port = 0, Replicas = replicas.Addresses, Tokenizer = Replicas.Model.Tokenizer });
        var client = new ChatClient("deepseek-chat", new ApiKeyCredential(Replicas.Key), new OpenAIClientOptions { Endpoint = new Uri(router.BaseAddress, "v1") });
        // Greedy, so the random model's answer is the same every run (a sampled one may end early on its own).
        var whole = (await client.CompleteChatAsync([new UserChatMessage("Hello through the router")], new ChatCompletionOptions { MaxOutputTokenCount = 6, Temperature = 0 })).Value;
        Assert.Contains(whole.FinishReason, new[] { ChatFinishReason.Length, ChatFinishReason.Stop });
        Assert.True(whole.Usage.OutputTokenCount is > 0 and <= 6);
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Stream through the router")], new ChatCompletionOptions { MaxOutputTokenCount = 6, Temperature = 0 }))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Contains(finish, new ChatFinishReason?[] { ChatFinishReason.Length, ChatFinishReason.Stop });
        Assert.NotEqual(0, text.Length);
    }
}
