using System.Text;
using SharpSeek.Inference;
using SharpSeek.Server.Api;
using SharpSeek.Server.Api.Anthropic;

namespace SharpSeek.Server.Tests;

/// <summary>How an Anthropic Messages body becomes the conversation the engine runs, and which bodies are refused.</summary>
public sealed class AnthropicRequestTests
{
    private static AnthropicRequest Parse(string json) => AnthropicRequest.Parse(Encoding.UTF8.GetBytes(json), "tiny");

    [Fact]
    public void System_blocks_and_plain_turns_translate_in_order()
    {
        var r = Parse("""
            {"model":"deepseek-chat","max_tokens":50,"system":[{"type":"text","text":"Be brief."},{"type":"text","text":"Be kind."}],
             "messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"hello"}]},{"role":"user","content":[{"type":"text","text":"again"}]}],
             "stop_sequences":["END"],"temperature":0.5,"top_k":4}
            """);
        Assert.Equal(ChatMode.Chat, r.Chat.Mode);
        Assert.Equal(["system", "user", "assistant", "user"], r.Chat.Messages.Select(m => m.Role));
        Assert.Equal("Be brief.\nBe kind.", r.Chat.Messages[0].Content);
        Assert.Equal("again", r.Chat.Messages[3].Content);
        Assert.False(r.Chat.Messages[2].Prefix);
        Assert.Equal(["END"], r.Chat.Stop);
        Assert.Equal(0.5f, r.Chat.Sampling.Temperature);
        Assert.Equal(4, r.Chat.Sampling.TopK);
        Assert.Equal(50, r.Chat.MaxTokens);
    }

    [Fact]
    public void Tool_results_become_tool_messages_and_tool_use_becomes_calls()
    {
        var r = Parse("""
            {"model":"deepseek-chat","max_tokens":50,
             "tools":[{"name":"get_weather","description":"Weather by city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],
             "tool_choice":{"type":"tool","name":"get_weather"},
             "messages":[{"role":"user","content":"Weather in Paris?"},
                         {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
                         {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"sunny"}]},{"type":"text","text":"Thanks"}]}]}
            """);
        Assert.Equal(["user", "assistant", "tool", "user"], r.Chat.Messages.Select(m => m.Role));
        var call = Assert.Single(r.Chat.Messages[1].ToolCalls!);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("""{"city":"Paris"}""", call.Arguments);
        Assert.Null(r.Chat.Messages[1].Content);
        Assert.Equal("sunny", r.Chat.Messages[2].Content);
        Assert.Equal("Thanks", r.Chat.Messages[3].Content);
        var tool = Assert.Single(r.Tools);
        Assert.Equal("get_weather", tool.Name);
        Assert.Contains("\"city\"", tool.InputSchema);
        Assert.Equal("tool", r.ToolChoice);
        Assert.Equal("get_weather", r.ToolChoiceName);
    }

    [Fact]
    public void Thinking_with_a_budget_turns_reasoning_on_and_a_final_assistant_turn_is_a_prefill()
    {
        var r = Parse("""
            {"model":"claude-sonnet-4-5","max_tokens":4000,"thinking":{"type":"enabled","budget_tokens":2048},
             "messages":[{"role":"user","content":"2+2?"},{"role":"assistant","content":"The answer is"}]}
            """);
        Assert.Equal(ChatMode.Reasoner, r.Chat.Mode);
        Assert.Equal(2048, r.Chat.ReasoningBudget);
        Assert.True(r.Chat.ThinkingRequested);
        Assert.Equal(ChatCompletionRequest.ChatModel, r.Chat.Model); // an unknown model name maps to deepseek-chat
        Assert.Equal("claude-sonnet-4-5", r.Model);                   // and is echoed back as sent
        Assert.True(r.Chat.Messages[^1].Prefix);
    }

    [Fact]
    public void Thinking_is_fed_back_only_inside_the_running_tool_loop_and_tools_compile_to_the_engines_choice()
    {
        const string loop = """
            {"role":"assistant","content":[{"type":"thinking","thinking":"look it up","signature":"s"},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Oslo"}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"3 C"}]}
            """;
        const string tools = """
            "tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],"tool_choice":{"type":"any"}
            """;
        var running = Parse($$"""{"model":"deepseek-reasoner","max_tokens":50,{{tools}},"messages":[{"role":"user","content":"weather?"},{{loop}}]}""");
        Assert.Equal("look it up", running.Chat.Messages[1].Reasoning);
        Assert.Equal(SharpSeek.Inference.Tools.ToolChoiceKind.Required, running.Chat.Tools!.Choice.Kind);
        var finished = Parse($$"""{"model":"deepseek-reasoner","max_tokens":50,"messages":[{"role":"user","content":"weather?"},{{loop}},{"role":"user","content":"and tomorrow?"}]}""");
        Assert.Null(finished.Chat.Messages[1].Reasoning);
        Assert.Null(finished.Chat.Tools);
        var chat = Parse($$"""{"model":"deepseek-chat","max_tokens":50,"messages":[{"role":"user","content":"weather?"},{{loop}}]}""");
        Assert.Null(chat.Chat.Messages[1].Reasoning); // the chat model has no reasoning to see again
    }

    [Theory]
    [InlineData("""{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}]}""", "max_tokens")]
    [InlineData("""{"model":"deepseek-chat","max_tokens":10,"messages":[]}""", "messages")]
    [InlineData("""{"model":"deepseek-chat","max_tokens":10,"messages":[{"role":"system","content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"model":"deepseek-chat","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]}""", "messages[0].content[0].type")]
    [InlineData("""{"model":"deepseek-chat","max_tokens":10,"temperature":1.5,"messages":[{"role":"user","content":"x"}]}""", "temperature")]
    [InlineData("""{"model":"deepseek-chat","max_tokens":2000,"thinking":{"type":"enabled","budget_tokens":100},"messages":[{"role":"user","content":"x"}]}""", "thinking.budget_tokens")]
    [InlineData("""{"model":"deepseek-chat","max_tokens":2000,"thinking":{"type":"enabled","budget_tokens":4000},"messages":[{"role":"user","content":"x"}]}""", "thinking.budget_tokens")]
    [InlineData("""{"model":"deepseek-chat","max_tokens":10,"tool_choice":{"type":"tool","name":"nope"},"tools":[],"messages":[{"role":"user","content":"x"}]}""", "tool_choice.name")]
    [InlineData("""{"model":"deepseek-chat","max_tokens":10,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"x"}]}""", "tools[0].type")]
    [InlineData("""{"model":"deepseek-chat","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":"x"}]},{"role":"user","content":"x"}]}""", "messages[0].content[0].input")]
    public void Bad_bodies_are_refused_naming_the_field(string json, string param)
    {
        var e = Assert.Throws<ApiException>(() => Parse(json));
        Assert.Equal(param, e.Param);
        Assert.Equal("invalid_request_error", AnthropicResponse.ErrorOf(e).Type);
    }
}
