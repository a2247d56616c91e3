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
    [Fact]
    public async Task Function_invocation_runs_its_loop_in_process_and_calls_the_csharp_function()
    {
        // Room for the loop's second turn: a random model's city name can be long.
        using var served = ServedModel.CreateRandom(RandomModelSize.Tiny, seed: 7, maxPositions: 8192);
        using var engine = new InferenceEngine(served.Model, served.Tokenizer, served.Identity, new EngineOptions { MaxContext = 8192, SpeculativeDecoding = false });
        var cities = new List<string>();
        var getWeather = AIFunctionFactory.Create((string city) =>
        {
            lock (cities) cities.Add(city);
            return $"It is sunny in {city}.";
        }, "get_weather", "Current weather in a city");
        IChatClient chat = new InferenceChatClient(engine).AsBuilder().UseFunctionInvocation().Build();
        var response = await chat.GetResponseAsync("What is the weather in Paris?", new ChatOptions
        {
            Tools = [getWeather], ToolMode = ChatToolMode.RequireSpecific("get_weather"), MaxOutputTokens = 2000, Seed = 3,
        });
        Assert.NotEmpty(cities);
        var call = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().First();
        Assert.Equal("get_weather", call.Name);
        Assert.StartsWith("call_", call.CallId);
        var result = response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().First();
        Assert.Equal($"It is sunny in {cities[0]}.", result.Result?.ToString());
        Assert.Equal(ChatRole.Assistant, response.Messages[^1].Role);
        Assert.DoesNotContain(response.Messages[^1].Contents, c => c is FunctionCallContent);
    }

    [Fact]
    public async Task A_required_call_streams_whole_with_the_tool_calls_finish_reason()
    {
        using var engine = fixture.CreateEngine();
        var tool = AIFunctionFactory.Create((int a, int b) => a + b, "add", "Adds two integers");
        IChatClient client = new InferenceChatClient(engine);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync("1 + 2?", new ChatOptions { Tools = [tool], ToolMode = ChatToolMode.RequireAny, MaxOutputTokens = 3000, Seed = 5 }))
            updates.Add(u);
        var calls = updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().ToList();
        var call = Assert.Single(calls.Take(1));
        Assert.Equal("add", call.Name);
        Assert.Null(call.Exception);
        Assert.Equal(System.Text.Json.JsonValueKind.Number, ((System.Text.Json.JsonElement)call.Arguments!["a"]!).ValueKind);
        Assert.Equal(ChatFinishReason.ToolCalls, updates[^1].FinishReason);
        // The conversation with the call and its result renders in DeepSeek's format for the next turn.
        var next = await client.GetResponseAsync(
            [new ChatMessage(ChatRole.User, "1 + 2?"), new ChatMessage(ChatRole.Assistant, [call]), new ChatMessage(ChatRole.Tool, [new FunctionResultContent(call.CallId, 3)])],
            new ChatOptions { Tools = [tool], ToolMode = ChatToolMode.None, MaxOutputTokens = 8, Seed = 1 });
        Assert.NotEqual(ChatFinishReason.ToolCalls, next.FinishReason);
        Assert.True(next.Usage!.InputTokenCount > 20);
    }
}
