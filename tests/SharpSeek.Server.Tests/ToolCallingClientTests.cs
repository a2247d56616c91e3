using System.ClientModel;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using SharpSeek.Server.Hosting;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;
using ChatMessage = OpenAI.Chat.ChatMessage;

#pragma warning disable OPENAI001 // ChatCompletionOptions.Seed: fixed draws keep the test's outcome one outcome

namespace SharpSeek.Server.Tests;

/// <summary>
/// Function calling with unmodified official clients against a real server on loopback: the OpenAI .NET SDK's two-turn
/// tool loop (streaming and not), Microsoft.Extensions.AI's UseFunctionInvocation calling a C# function, and the
/// `openai` npm client's loop in a node process. A random-weight model never picks a tool by itself, so turn 1 names
/// or requires the tool and turn 2 lets the model answer (auto / none).
/// </summary>
public sealed class ToolCallingClientTests : IAsyncLifetime
{
    /// <summary>
    /// Tokens that always hold a `required` reply of weather calls on the byte-level test vocabulary: at most 16 calls
    /// (ToolSet.MaxCalls), each about 40 tokens of markers and name plus at most ~90 of arguments (a 12-code-point city
    /// of ≤ 4 bytes each, the longest unit, one space between JSON tokens). A smaller budget makes the finish reason
    /// depend on how many calls the random weights happen to make.
    /// </summary>
    internal const int RequiredCallsBudget = 2500;

    internal const string WeatherSchema = """
        {"type":"object","properties":{"city":{"type":"string","description":"City name","maxLength":12},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},
         "required":["city","unit"],"additionalProperties":false}
        """;

    private SharpSeekServer _server = null!;

    public async Task InitializeAsync() => _server = await ServerHarness.StartAsync();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private ChatClient Client(string model = "deepseek-chat") =>
        new(model, new ApiKeyCredential(ServerHarness.Key), new OpenAIClientOptions { Endpoint = new Uri(_server.BaseAddress, "v1"), NetworkTimeout = TimeSpan.FromSeconds(60) });

    private static ChatTool WeatherTool() => ChatTool.CreateFunctionTool("get_weather", "Current weather in a city", BinaryData.FromString(WeatherSchema));

    private static void AssertWeatherArguments(string arguments)
    {
        using var doc = JsonDocument.Parse(arguments);
        var city = doc.RootElement.GetProperty("city");
        Assert.Equal(JsonValueKind.String, city.ValueKind);
        Assert.True(city.GetString()!.EnumerateRunes().Count() <= 12, arguments);
        Assert.Contains(doc.RootElement.GetProperty("unit").GetString(), new[] { "celsius", "fahrenheit" });
        Assert.Equal(2, doc.RootElement.EnumerateObject().Count());
    }

    [Fact]
    public async Task Dotnet_sdk_two_turn_tool_loop()
    {
        var client = Client();
        var messages = new List<ChatMessage> { new SystemChatMessage("You answer weather questions."), new UserChatMessage("What is the weather in Paris?") };
        var first = (await client.CompleteChatAsync(messages, new ChatCompletionOptions
        {
            Tools = { WeatherTool() }, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather"), MaxOutputTokenCount = 200, Seed = 11,
        })).Value;
        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.StartsWith("call_", call.Id);
        AssertWeatherArguments(call.FunctionArguments.ToString());

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, "{\"temperature\": 21, \"sky\": \"clear\"}"));
        var second = (await client.CompleteChatAsync(messages, new ChatCompletionOptions
        {
            Tools = { WeatherTool() }, ToolChoice = ChatToolChoice.CreateNoneChoice(), MaxOutputTokenCount = 16, Seed = 12,
        })).Value;
        Assert.True(second.FinishReason is ChatFinishReason.Stop or ChatFinishReason.Length);
        Assert.Empty(second.ToolCalls);
        Assert.True(second.Usage.InputTokenCount > first.Usage.InputTokenCount);
    }

    [Fact]
    public async Task Dotnet_sdk_two_turn_tool_loop_streaming()
    {
        var client = Client();
        var messages = new List<ChatMessage> { new UserChatMessage("Weather in Oslo and Rome?") };
        var ids = new Dictionary<int, string>();
        var names = new Dictionary<int, string>();
        var args = new Dictionary<int, StringBuilder>();
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync(messages, new ChatCompletionOptions
        {
            Tools = { WeatherTool() }, ToolChoice = ChatToolChoice.CreateRequiredChoice(), MaxOutputTokenCount = RequiredCallsBudget, Seed = 5,
        }))
        {
            foreach (var t in update.ToolCallUpdates)
            {
                if (t.ToolCallId is not null) ids[t.Index] = t.ToolCallId;
                if (t.FunctionName is not null) names[t.Index] = t.FunctionName;
                if (!args.TryGetValue(t.Index, out var sb)) args[t.Index] = sb = new StringBuilder();
                if (t.FunctionArgumentsUpdate is { } a && !a.IsEmpty) sb.Append(a.ToString());
            }
            finish ??= update.FinishReason;
        }
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.NotEmpty(ids);
        Assert.Equal(Enumerable.Range(0, ids.Count), ids.Keys.Order());
        var calls = new List<ChatToolCall>();
        foreach (int i in ids.Keys.Order())
        {
            Assert.Equal("get_weather", names[i]);
            AssertWeatherArguments(args[i].ToString());
            calls.Add(ChatToolCall.CreateFunctionToolCall(ids[i], names[i], BinaryData.FromString(args[i].ToString())));
        }

        messages.Add(new AssistantChatMessage(calls));
        foreach (var c in calls) messages.Add(new ToolChatMessage(c.Id, "{\"temperature\": 18}"));
        var text = new StringBuilder();
        ChatFinishReason? second = null;
        await foreach (var update in client.CompleteChatStreamingAsync(messages, new ChatCompletionOptions
        {
            Tools = { WeatherTool() }, ToolChoice = ChatToolChoice.CreateAutoChoice(), MaxOutputTokenCount = 16, Seed = 9,
        }))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            second ??= update.FinishReason;
        }
        Assert.NotNull(second);
    }

    [Fact]
    public async Task Extensions_AI_function_invocation_calls_a_csharp_function()
    {
        var cities = new List<string>();
        var getWeather = AIFunctionFactory.Create((string city) =>
        {
            lock (cities) cities.Add(city);
            return $"It is sunny in {city}.";
        }, "get_weather", "Current weather in a city");
        IChatClient chat = Client().AsIChatClient().AsBuilder().UseFunctionInvocation().Build();
        var response = await chat.GetResponseAsync("What is the weather in Paris?", new ChatOptions
        {
            // The generated schema leaves `city` unbounded: the grammar then ends it within 256 code points (≤ 1,024 bytes,
            // one token each for this byte-level vocabulary), so 1,200 tokens always hold the call, whatever the weights.
            Tools = [getWeather], ToolMode = ChatToolMode.RequireSpecific("get_weather"), MaxOutputTokens = 1200, Seed = 3,
        });
        Assert.NotEmpty(cities);
        // The conversation holds the model's call, the function's result, and a final assistant answer.
        var results = response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().ToList();
        Assert.NotEmpty(results);
        Assert.Equal($"It is sunny in {cities[0]}.", results[0].Result?.ToString());
        Assert.Equal(ChatRole.Assistant, response.Messages[^1].Role);
        Assert.DoesNotContain(response.Messages[^1].Contents, c => c is FunctionCallContent);
    }

    [Fact]
    public async Task Openai_npm_client_two_turn_tool_loop_streaming_and_not()
    {
        var (code, stdout, stderr) = await ServerHarness.RunNodeAsync("tool-loop.cjs", new Dictionary<string, string>
        {
            ["SHARPSEEK_BASE_URL"] = _server.BaseAddress.ToString(),
            ["SHARPSEEK_API_KEY"] = ServerHarness.Key,
            ["SHARPSEEK_TOOL_SCHEMA"] = WeatherSchema,
        }, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, stderr + stdout);
        using var report = JsonDocument.Parse(stdout);
        Assert.Equal("tool_calls", report.RootElement.GetProperty("nonStreaming").GetProperty("finish").GetString());
        Assert.Equal("tool_calls", report.RootElement.GetProperty("streaming").GetProperty("finish").GetString());
    }
}
