using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;
using System.Text;

namespace SharpSeek.Inference.Tests;

public sealed class TextProcessingTests
{
    [Fact]
    public void Stop_matcher_holds_back_partial_matches_and_cuts_at_the_first_stop()
    {
        var m = new StopStringMatcher(["END", "xyz"]);
        Assert.Equal("hello ", m.Push("hello E", out bool s1));
        Assert.False(s1);
        Assert.Equal("", m.Push("N", out bool s2));
        Assert.False(s2);
        Assert.Equal("EN", m.Push("x", out bool s3)); // "ENx" is no stop, but "x" may start "xyz"
        Assert.False(s3);
        Assert.Null(m.Matched);
        Assert.Equal("", m.Push("yz!", out bool s4));
        Assert.True(s4);
        Assert.Equal("xyz", m.Matched);
        var k = new StopStringMatcher(["END"]);
        Assert.Equal("ab", k.Push("abEN", out _));
        Assert.Equal("", k.Push("D tail", out bool st));
        Assert.True(st);
        Assert.Equal("END", k.Matched);
        var both = new StopStringMatcher(["b", "a"]);
        both.Push("xab", out _);
        Assert.Equal("a", both.Matched); // the earliest in the text, not the first in the list
        var f = new StopStringMatcher(["END"]);
        Assert.Equal("ok", f.Push("okE", out _));
        Assert.Equal("E", f.Flush());
    }

    [Theory]
    [InlineData("{}", true, true)]
    [InlineData("{\"a\": [1, -2.5e+3, true, null, \"x\\u00e9\"], \"b\": {\"c\": false}}", true, true)]
    [InlineData("{\"a\":", true, false)]
    [InlineData("[1]", false, false)]
    [InlineData("{\"a\" 1}", false, false)]
    [InlineData("{\"a\": 01}", false, false)]
    [InlineData("{\"a\":  1}", false, false)]
    [InlineData("{\"a\": tru", true, false)]
    [InlineData("{\"a\": trux", false, false)]
    [InlineData("{} {", false, false)]
    [InlineData("{\"a\":1,}", false, false)]
    public void Json_recognizer_accepts_exactly_valid_object_prefixes(string text, bool validPrefix, bool complete)
    {
        var r = new JsonValueRecognizer();
        bool ok = true;
        foreach (byte b in Encoding.UTF8.GetBytes(text)) ok &= r.TryFeed([b]);
        Assert.Equal(validPrefix, ok);
        if (ok) Assert.Equal(complete, r.IsComplete);
    }

    [Fact]
    public void Json_recognizer_rejects_a_bad_token_without_changing_state()
    {
        var r = new JsonValueRecognizer();
        Assert.True(r.TryFeed("{\"k\""u8));
        Assert.False(r.TryFeed(":]"u8));
        Assert.True(r.TryFeed(": 1}"u8));
        Assert.True(r.IsComplete);
    }

    [Fact]
    public void Byte_tokenizer_round_trips_any_text_one_token_per_byte()
    {
        var tok = ServedModel.CreateByteTokenizer();
        string text = "Hello, 世界! 🚀 tabs\tand\nnewlines";
        var ids = tok.Encode(text);
        Assert.Equal(Encoding.UTF8.GetByteCount(text), ids.Length);
        Assert.Equal(text, tok.Decode(ids));
        Assert.NotNull(tok.EosTokenId);
        Assert.NotNull(tok.TokenToId("</think>"));
    }

    [Fact]
    public void Prompt_formatter_renders_the_templates_and_rejects_bad_sequences()
    {
        var tok = ServedModel.CreateByteTokenizer();
        var f = new ChatPromptFormatter(tok);
        var chat = f.Format([new PromptMessage("system", "be brief"), new PromptMessage("user", "hi")], ChatMode.Chat);
        Assert.Equal("<｜begin▁of▁sentence｜>be brief<｜User｜>hi<｜Assistant｜>", tok.Decode(chat.Tokens));
        Assert.False(chat.StartsInReasoning);
        var r1 = f.Format([new PromptMessage("user", "hi"), new PromptMessage("assistant", "old thoughts</think>answer"), new PromptMessage("user", "again")], ChatMode.Reasoner);
        string r1Text = tok.Decode(r1.Tokens);
        Assert.True(r1.StartsInReasoning);
        Assert.EndsWith("<｜Assistant｜><think>\n", r1Text);
        Assert.DoesNotContain("old thoughts", r1Text);
        var prefix = f.Format([new PromptMessage("user", "write"), new PromptMessage("assistant", "```python\n", Prefix: true)], ChatMode.Chat);
        Assert.EndsWith("<｜Assistant｜>```python\n", tok.Decode(prefix.Tokens));
        Assert.Throws<ArgumentException>(() => f.Format([new PromptMessage("user", "x", Prefix: true)], ChatMode.Chat));
        Assert.Throws<ArgumentException>(() => f.Format([], ChatMode.Chat));
        var fim = f.FormatFillInTheMiddle("def f(", ")");
        Assert.Equal("<｜begin▁of▁sentence｜><｜fim▁begin｜>def f(<｜fim▁hole｜>)<｜fim▁end｜>", tok.Decode(fim));
    }
    private static string Bundled(string file) => Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "models", "sharpseek-r1-tiny", file);

    [Fact]
    public void A_reasoning_models_own_template_renders_both_modes_and_chat_closes_the_think_block()
    {
        byte[] json = File.ReadAllBytes(Bundled("tokenizer.json"));
        byte[] config = File.ReadAllBytes(Bundled("tokenizer_config.json"));
        var r1 = ByteLevelBpeTokenizer.FromHuggingFaceJson(json, config);
        Assert.Equal(ChatTemplateKind.DeepSeekR1, r1.ChatTemplate!.Kind);
        var f = new ChatPromptFormatter(r1);
        Assert.StartsWith("DeepSeek-R1 ", f.TemplateDescription);
        var chat = f.Format([new PromptMessage("user", "hi")], ChatMode.Chat);
        Assert.EndsWith("<｜Assistant｜><think>\n\n</think>\n\n", r1.Decode(chat.Tokens));
        Assert.False(chat.StartsInReasoning);
        var reasoner = f.Format([new PromptMessage("user", "hi")], ChatMode.Reasoner);
        Assert.EndsWith("<｜Assistant｜><think>\n", r1.Decode(reasoner.Tokens));
        Assert.True(reasoner.StartsInReasoning);
        var prefix = f.Format([new PromptMessage("user", "hi"), new PromptMessage("assistant", "Sure", Prefix: true)], ChatMode.Chat);
        Assert.EndsWith("<think>\n\n</think>\n\nSure", r1.Decode(prefix.Tokens));

        // An R1-Distill template (its quirk: only the last system message is kept) is followed as the model's own.
        string distillTemplate = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "oracles", "tokenizer", "templates", "deepseek-r1-distill.jinja"));
        var distillConfig = System.Text.Json.Nodes.JsonNode.Parse(config)!.AsObject();
        distillConfig["chat_template"] = distillTemplate;
        var distill = ByteLevelBpeTokenizer.FromHuggingFaceJson(json, Encoding.UTF8.GetBytes(distillConfig.ToJsonString()));
        var d = new ChatPromptFormatter(distill);
        PromptMessage[] twoSystems = [new("system", "first"), new("system", "second"), new("user", "hi")];
        string expected = new DeepSeekChatTemplate(ChatTemplateKind.DeepSeekR1Distill, distill.BosToken!)
            .Render([ChatMessage.System("first"), ChatMessage.System("second"), ChatMessage.User("hi")], addGenerationPrompt: true);
        Assert.Equal(expected, d.RenderText(twoSystems, ChatMode.Reasoner));
        Assert.Equal(expected + "\n</think>\n\n", d.RenderText(twoSystems, ChatMode.Chat));

        // Without a template of its own (the byte tokenizer), V3 renders chat and R1 the reasoner, as before.
        Assert.StartsWith("DeepSeek-V3 (the model has none)", new ChatPromptFormatter(ServedModel.CreateByteTokenizer()).TemplateDescription);
    }
}
