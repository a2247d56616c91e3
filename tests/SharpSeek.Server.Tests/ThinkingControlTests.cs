using System.Net;
using System.Text.Json;
using SharpSeek.Server.Api;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary><c>thinking</c> and <c>reasoning_effort</c> over real HTTP: the switch works on either model name, the effort is a reasoning-token budget.</summary>
public sealed class ThinkingControlTests : IAsyncLifetime
{
    private SharpSeekServer _server = null!;

    public async Task InitializeAsync() => _server = await ServerHarness.StartAsync();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<JsonElement> CompleteAsync(string body)
    {
        using var http = ServerHarness.Http(_server);
        var r = await http.PostAsync("chat/completions", ServerHarness.Json(body));
        string text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static int ReasoningTokens(JsonElement response) =>
        response.GetProperty("usage").GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32();

    [Fact]
    public async Task Thinking_enabled_on_the_chat_model_reasons_first()
    {
        var r = await CompleteAsync("""
            {"model":"deepseek-chat","messages":[{"role":"user","content":"think"}],"max_tokens":30,"seed":1,"thinking":{"type":"enabled"}}
            """);
        Assert.Equal(JsonValueKind.String, r.GetProperty("choices")[0].GetProperty("message").GetProperty("reasoning_content").ValueKind);
        Assert.InRange(ReasoningTokens(r), 1, 30);
    }

    [Fact]
    public async Task Thinking_disabled_on_the_reasoner_answers_directly()
    {
        var r = await CompleteAsync("""
            {"model":"deepseek-reasoner","messages":[{"role":"user","content":"think"}],"max_tokens":30,"seed":1,"thinking":{"type":"disabled"}}
            """);
        var message = r.GetProperty("choices")[0].GetProperty("message");
        Assert.False(message.TryGetProperty("reasoning_content", out var rc) && rc.ValueKind == JsonValueKind.String && rc.GetString()!.Length > 0);
        Assert.Equal(0, ReasoningTokens(r));
        Assert.Equal("deepseek-reasoner", r.GetProperty("model").GetString());
    }

    [Theory]
    [InlineData("deepseek-reasoner", "", "minimal", ChatCompletionRequest.LowEffortBudget)]
    [InlineData("deepseek-reasoner", "", "low", ChatCompletionRequest.LowEffortBudget)]
    [InlineData("deepseek-reasoner", "", "medium", ChatCompletionRequest.HighEffortBudget)]
    [InlineData("deepseek-reasoner", "", "high", ChatCompletionRequest.HighEffortBudget)]
    [InlineData("deepseek-reasoner", "", "max", null)]
    [InlineData("deepseek-chat", ",\"thinking\":{\"type\":\"enabled\"}", "low", ChatCompletionRequest.LowEffortBudget)]
    [InlineData("deepseek-chat", "", "low", null)]
    [InlineData("deepseek-reasoner", ",\"thinking\":{\"type\":\"disabled\"}", "high", null)]
    public void Reasoning_effort_is_a_reasoning_token_budget_when_thinking(string model, string extra, string effort, int? budget)
    {
        var request = ChatCompletionRequest.Parse(System.Text.Encoding.UTF8.GetBytes(
            $"{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"x\"}}],\"reasoning_effort\":\"{effort}\"{extra}}}"), fillInTheMiddle: false);
        Assert.Equal(budget, request.ReasoningBudget);
    }

    [Fact]
    public async Task Low_effort_reasoning_stays_within_its_budget()
    {
        var r = await CompleteAsync($$"""
            {"model":"deepseek-reasoner","messages":[{"role":"user","content":"think"}],"max_tokens":{{ChatCompletionRequest.LowEffortBudget + 200}},"seed":5,"reasoning_effort":"low"}
            """);
        Assert.InRange(ReasoningTokens(r), 1, ChatCompletionRequest.LowEffortBudget);
    }

    [Theory]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"thinking":{"type":"sometimes"}}""", 422, "thinking.type")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"thinking":"enabled"}""", 400, "thinking")]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"thinking":{}}""", 400, "thinking.type")]
    [InlineData("""{"model":"deepseek-reasoner","messages":[{"role":"user","content":"x"}],"reasoning_effort":"extreme"}""", 422, "reasoning_effort")]
    [InlineData("""{"model":"deepseek-reasoner","messages":[{"role":"user","content":"x"}],"reasoning_effort":3}""", 400, "reasoning_effort")]
    public async Task Bad_thinking_controls_get_an_error_naming_the_field(string body, int status, string param)
    {
        using var http = ServerHarness.Http(_server);
        var r = await http.PostAsync("chat/completions", ServerHarness.Json(body));
        Assert.Equal(status, (int)r.StatusCode);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal(param, doc.RootElement.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Fill_in_the_middle_refuses_thinking()
    {
        using var http = ServerHarness.Http(_server);
        var r = await http.PostAsync("beta/completions", ServerHarness.Json("""
            {"model":"deepseek-chat","prompt":"def f(","suffix":")","thinking":{"type":"enabled"}}
            """));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal("thinking", doc.RootElement.GetProperty("error").GetProperty("param").GetString());
    }
    private const string LoopTools = """
        "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]
        """;

    [Fact]
    public async Task Reasoning_sent_back_inside_a_running_tool_loop_is_accepted_and_rendered()
    {
        string body = $$$"""
            {"model":"deepseek-reasoner","max_tokens":8,"seed":3,{{{LoopTools}}},"messages":[
              {"role":"user","content":"weather in Oslo?"},
              {"role":"assistant","content":null,"reasoning_content":"I should look it up.",
               "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"{\"c\":3}"}]}
            """;
        var request = ChatCompletionRequest.Parse(System.Text.Encoding.UTF8.GetBytes(body), fillInTheMiddle: false);
        Assert.Equal("I should look it up.", request.Messages[1].Reasoning);
        string rendered = _server.Engine.Prompts.RenderText(request.Messages, request.Mode, request.Tools);
        Assert.Contains("<think>\nI should look it up.\n</think>", rendered);
        await CompleteAsync(body);
    }

    [Theory]
    // An answered turn (no tool calls) never carries its reasoning back.
    [InlineData("""[{"role":"user","content":"x"},{"role":"assistant","content":"y","reasoning_content":"z"}]""")]
    // A tool-calling turn before the latest user message belongs to a finished loop.
    [InlineData("""[{"role":"user","content":"x"},{"role":"assistant","content":null,"reasoning_content":"z","tool_calls":[{"id":"c","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"1"},{"role":"user","content":"w"}]""")]
    public async Task Reasoning_outside_a_running_tool_loop_is_refused(string messages)
    {
        using var http = ServerHarness.Http(_server);
        var r = await http.PostAsync("chat/completions", ServerHarness.Json($$$"""{"model":"deepseek-reasoner",{{{LoopTools}}},"messages":{{{messages}}}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal("messages[1].reasoning_content", doc.RootElement.GetProperty("error").GetProperty("param").GetString());
    }
}
