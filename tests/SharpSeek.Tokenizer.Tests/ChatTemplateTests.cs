using System.Text;
using System.Text.Json;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Tokenizer.Tests;

/// <summary>
/// Chat rendering compared with the reference Jinja templates rendered in JavaScript: V3's template through the
/// tokenizer's own apply_chat_template and through the current @huggingface/jinja, the R1 and R1-Distill templates
/// through @huggingface/jinja (the bundled interpreter cannot parse them).
/// </summary>
public sealed class ChatTemplateTests
{
    private static string TemplateFile(string name) =>
        File.ReadAllText(Path.Combine(RepositoryPaths.OracleDirectory, "templates", name)).TrimEnd('\n');

    private static readonly ChatToolCall Weather = new("get_weather", "{\"city\": \"Hangzhou\", \"unit\": \"celsius\"}");
    private static readonly ChatToolCall Time = new("get_time", "{\"tz\": \"Asia/Shanghai\"}");

    /// <summary>Conversations covering system prompts, multiple turns, reasoning, tool calls and tool results.</summary>
    internal static IReadOnlyList<ChatMessage[]> Conversations() =>
    [
        [ChatMessage.User("Hello!")],
        [ChatMessage.System("You are a helpful assistant."), ChatMessage.User("What is 2+2?")],
        [ChatMessage.System("Rule one."), ChatMessage.User("hi"), ChatMessage.System("Rule two."), ChatMessage.System("Rule three.")],
        [
            ChatMessage.System("Be brief."), ChatMessage.User("Name a prime."), ChatMessage.Assistant("7"),
            ChatMessage.User("Another?"), ChatMessage.Assistant("11"), ChatMessage.User("And one more?"),
        ],
        [
            ChatMessage.User("Why is the sky blue?"),
            ChatMessage.Assistant("<think>\nRayleigh scattering scales with 1/λ⁴.\n</think>\n\nBecause air scatters blue light most."),
            ChatMessage.User("And sunsets?"),
        ],
        [
            ChatMessage.User("Solve x²=4"),
            ChatMessage.Assistant("<think>first</think>draft</think>\n\nx = ±2"),
            ChatMessage.User("thanks"),
            ChatMessage.Assistant("no reasoning here"),
        ],
        [
            ChatMessage.System("You can call tools."),
            ChatMessage.User("Weather in Hangzhou?"),
            ChatMessage.AssistantToolCalls([Weather]),
            ChatMessage.Tool("{\"temperature\": 24, \"condition\": \"sunny\"}"),
            ChatMessage.Assistant("It is 24°C and sunny in Hangzhou."),
            ChatMessage.User("Thanks!"),
        ],
        [
            ChatMessage.User("Weather and time?"),
            ChatMessage.AssistantToolCalls([Weather, Time]),
            ChatMessage.Tool("{\"temperature\": 24}"),
            ChatMessage.Tool("{\"time\": \"14:05\"}"),
            ChatMessage.Assistant("24°C at 14:05."),
        ],
        [
            ChatMessage.User("First question"),
            ChatMessage.AssistantToolCalls([Weather]),
            ChatMessage.Tool("sunny"),
            ChatMessage.Assistant("Sunny."),
            ChatMessage.User("And the time?"),
            ChatMessage.AssistantToolCalls([Time, Weather]),
            ChatMessage.Tool("14:05"),
            ChatMessage.Tool("still sunny"),
        ],
        [
            ChatMessage.User("Check the weather"),
            ChatMessage.AssistantToolCalls([Weather], "Let me look that up."),
            ChatMessage.Tool("rain"),
            ChatMessage.Assistant("<think>it rains</think>Take an umbrella."),
        ],
        [
            ChatMessage.System("多语言助手"),
            ChatMessage.User("你好，世界！🌍\n第二行\twith tab"),
            ChatMessage.Assistant("<think>用户在打招呼</think>你好！有什么可以帮你？"),
            ChatMessage.User("Write code:\n```python\nprint('<｜User｜> is a token')\n```"),
        ],
        [ChatMessage.System(""), ChatMessage.User(""), ChatMessage.Assistant(""), ChatMessage.User("  spaced  ")],
        [ChatMessage.User("Only a question"), ChatMessage.Assistant("An answer with a trailing newline\n")],
    ];

    private static string MessagesJson(IEnumerable<ChatMessage> messages)
    {
        var sb = new StringBuilder("[");
        bool first = true;
        foreach (ChatMessage m in messages)
        {
            if (!first)
                sb.Append(',');
            first = false;
            sb.Append("{\"role\":").Append(NodeOracle.Quote(m.Role)).Append(",\"content\":")
                .Append(m.Content is null ? "null" : NodeOracle.Quote(m.Content));
            if (m.ToolCalls is not null)
            {
                sb.Append(",\"tool_calls\":[");
                sb.AppendJoin(',', m.ToolCalls.Select(c =>
                    "{\"type\":" + NodeOracle.Quote(c.Type) + ",\"function\":{\"name\":" + NodeOracle.Quote(c.Name) +
                    ",\"arguments\":" + NodeOracle.Quote(c.Arguments) + "}}"));
                sb.Append(']');
            }
            sb.Append('}');
        }
        return sb.Append(']').ToString();
    }

    private static string ChatRequest(ChatMessage[] messages, bool generationPrompt, string engine, string? template, bool tokenize) =>
        "{\"op\":\"chat\",\"engine\":" + NodeOracle.Quote(engine) + ",\"tokenize\":" + (tokenize ? "true" : "false") +
        ",\"add_generation_prompt\":" + (generationPrompt ? "true" : "false") +
        ",\"template\":" + (template is null ? "null" : NodeOracle.Quote(template)) +
        ",\"messages\":" + MessagesJson(messages) + "}";

    [Fact]
    public void RenderingMatchesTheReferenceTemplatesInJavaScript()
    {
        ByteLevelBpeTokenizer tokenizer = DeepSeekV3Tokenizer.Instance;
        string r1 = TemplateFile("deepseek-r1.jinja");
        string distill = TemplateFile("deepseek-r1-distill.jinja");
        var cases = new List<(string Label, ChatTemplateKind Kind, bool GenerationPrompt, ChatMessage[] Messages, string Engine, string? Template, bool Tokenize)>();
        IReadOnlyList<ChatMessage[]> conversations = Conversations();
        for (int c = 0; c < conversations.Count; c++)
        {
            foreach (bool generationPrompt in new[] { false, true })
            {
                cases.Add(($"V3/transformers.js #{c}", ChatTemplateKind.DeepSeekV3, generationPrompt, conversations[c], "transformers.js", null, false));
                cases.Add(($"V3/jinja #{c}", ChatTemplateKind.DeepSeekV3, generationPrompt, conversations[c], "jinja", null, false));
                cases.Add(($"V3 ids #{c}", ChatTemplateKind.DeepSeekV3, generationPrompt, conversations[c], "transformers.js", null, true));
                cases.Add(($"R1 #{c}", ChatTemplateKind.DeepSeekR1, generationPrompt, conversations[c], "jinja", r1, false));
                cases.Add(($"R1 ids #{c}", ChatTemplateKind.DeepSeekR1, generationPrompt, conversations[c], "jinja", r1, true));
                cases.Add(($"R1-Distill #{c}", ChatTemplateKind.DeepSeekR1Distill, generationPrompt, conversations[c], "jinja", distill, false));
            }
        }

        IReadOnlyList<JsonElement> responses = NodeOracle.Run(
            cases.Select(x => ChatRequest(x.Messages, x.GenerationPrompt, x.Engine, x.Template, x.Tokenize)).ToArray());

        var failures = new StringBuilder();
        for (int i = 0; i < cases.Count; i++)
        {
            var x = cases[i];
            string ours = new DeepSeekChatTemplate(x.Kind, tokenizer.BosToken!).Render(x.Messages, x.GenerationPrompt);
            if (x.Tokenize)
            {
                int[] expectedIds = NodeOracle.Ids(responses[i]);
                int[] ourIds = tokenizer.Encode(ours);
                if (!expectedIds.AsSpan().SequenceEqual(ourIds))
                    failures.AppendLine($"{x.Label} (prompt={x.GenerationPrompt}) ids differ");
                continue;
            }
            string expected = NodeOracle.Field(responses[i], "text").GetString()!;
            if (expected != ours)
                failures.AppendLine($"{x.Label} (prompt={x.GenerationPrompt}):\n  js:   {NodeOracle.Quote(expected)}\n  ours: {NodeOracle.Quote(ours)}");
        }
        Assert.True(failures.Length == 0, failures.ToString());
    }

    [Fact]
    public void TheTokenizersOwnTemplateIsRecognisedAndUsed()
    {
        ByteLevelBpeTokenizer tokenizer = DeepSeekV3Tokenizer.Instance;
        Assert.NotNull(tokenizer.ChatTemplate);
        Assert.Equal(ChatTemplateKind.DeepSeekV3, tokenizer.ChatTemplate!.Kind);
        ChatMessage[] conversation = [ChatMessage.System("S"), ChatMessage.User("hi")];
        Assert.Equal("<｜begin▁of▁sentence｜>S<｜User｜>hi<｜Assistant｜>", tokenizer.ApplyChatTemplate(conversation, addGenerationPrompt: true));
        int[] ids = tokenizer.EncodeChat(conversation, addGenerationPrompt: true);
        Assert.Equal(0, ids[0]);
        Assert.Equal(tokenizer.TokenToId("<｜Assistant｜>"), ids[^1]);
    }

    [Fact]
    public void TemplatesAreDetectedFromTheirJinjaSource()
    {
        Assert.Equal(ChatTemplateKind.DeepSeekV3, DeepSeekChatTemplate.Detect(DeepSeekV3Tokenizer.Instance.ChatTemplateSource!));
        Assert.Equal(ChatTemplateKind.DeepSeekR1, DeepSeekChatTemplate.Detect(TemplateFile("deepseek-r1.jinja")));
        Assert.Equal(ChatTemplateKind.DeepSeekR1Distill, DeepSeekChatTemplate.Detect(TemplateFile("deepseek-r1-distill.jinja")));
        Assert.Null(DeepSeekChatTemplate.Detect("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>{% endfor %}"));
    }

    [Fact]
    public void ReasoningOfEarlierTurnsIsDroppedAndTheGenerationPromptOpensThinking()
    {
        var r1 = new DeepSeekChatTemplate(ChatTemplateKind.DeepSeekR1);
        string rendered = r1.Render(
            [ChatMessage.User("q1"), ChatMessage.Assistant("<think>secret</think>a1"), ChatMessage.User("q2")], addGenerationPrompt: true);
        Assert.Equal("<｜begin▁of▁sentence｜><｜User｜>q1<｜Assistant｜>a1<｜end▁of▁sentence｜><｜User｜>q2<｜Assistant｜><think>\n", rendered);
        Assert.DoesNotContain("secret", rendered);
        var v3 = new DeepSeekChatTemplate(ChatTemplateKind.DeepSeekV3);
        Assert.EndsWith("<｜Assistant｜>", v3.Render([ChatMessage.User("q")], addGenerationPrompt: true));
    }

    [Fact]
    public void ReasoningOfAToolCallingTurnRendersInsideThinkMarkersOnlyWhenGiven()
    {
        var r1 = new DeepSeekChatTemplate(ChatTemplateKind.DeepSeekR1);
        var call = new ChatToolCall("get_weather", "{\"city\":\"Oslo\"}");
        ChatMessage[] loop =
        [
            ChatMessage.User("weather?"),
            new ChatMessage("assistant", null, [call]) { Reasoning = "I should look it up." },
            new ChatMessage("tool", "{\"c\":3}"),
        ];
        string with = r1.Render(loop, addGenerationPrompt: true);
        Assert.Contains("<｜Assistant｜><think>\nI should look it up.\n</think>\n\n<｜tool▁calls▁begin｜>", with);
        // Without reasoning the output is the reference template's, byte for byte.
        string without = r1.Render([loop[0], new ChatMessage("assistant", null, [call]), loop[2]], addGenerationPrompt: true);
        Assert.Equal(without, with.Replace("<think>\nI should look it up.\n</think>\n\n", ""));
    }

    [Fact]
    public void MessagesTheTemplatesCannotRenderAreRejected()
    {
        var template = new DeepSeekChatTemplate(ChatTemplateKind.DeepSeekV3);
        Assert.Contains("developer", Assert.Throws<ArgumentException>(() => template.Render([new ChatMessage("developer", "x")], false)).Message);
        Assert.Contains("no content", Assert.Throws<ArgumentException>(() => template.Render([new ChatMessage("user", null)], false)).Message);
        Assert.Contains("neither content nor tool calls",
            Assert.Throws<ArgumentException>(() => template.Render([new ChatMessage("assistant", null)], false)).Message);
    }
}
