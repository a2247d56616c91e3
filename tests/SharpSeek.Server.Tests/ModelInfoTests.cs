using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Server.Tests;

/// <summary>What the chat front ends learn about the served model: whether it reasons by default, and the router's tokenizer-only load.</summary>
public sealed class ModelInfoTests
{
    private static string Bundled => Path.Combine(ServerHarness.RepositoryRoot(), "models", "sharpseek-r1-tiny");

    private static async Task<JsonElement> ModelJsonAsync(ServedModel served)
    {
        await using var server = await SharpSeekServer.StartAsync(ServerHarness.Options(), served);
        using var http = ServerHarness.Http(server, key: null);
        using var doc = JsonDocument.Parse(await http.GetStringAsync("ui/model.json"));
        return doc.RootElement.Clone();
    }

    [Fact]
    public async Task A_model_trained_only_to_reason_says_so_and_a_plain_one_does_not()
    {
        using (var r1 = ServedModel.Open(Bundled, maxPositions: 512))
        {
            var info = await ModelJsonAsync(r1);
            Assert.True(info.GetProperty("thinks_by_default").GetBoolean());
            Assert.True(info.GetProperty("supports_thinking").GetBoolean());
            Assert.StartsWith("DeepSeek-R1", info.GetProperty("template").GetString());
        }
        var plain = await ModelJsonAsync(ServerHarness.TinyModel);
        Assert.False(plain.GetProperty("thinks_by_default").GetBoolean());
    }

    [Fact]
    public async Task The_answer_after_the_reasoning_starts_with_the_answer_not_the_templates_blank_line()
    {
        // The R1 template writes "</think>\n\n" before the answer; DeepSeek's content field starts at the answer.
        using var r1 = ServedModel.Open(Bundled, maxPositions: 512);
        await using var server = await SharpSeekServer.StartAsync(ServerHarness.Options(), r1);
        using var http = ServerHarness.Http(server);
        using var response = await http.PostAsync("chat/completions", ServerHarness.Json(
            """{"model":"deepseek-reasoner","messages":[{"role":"user","content":"What is 12 + 34?"}],"temperature":0,"max_tokens":200}"""));
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var message = doc.RootElement.GetProperty("choices")[0].GetProperty("message");
        Assert.NotEmpty(message.GetProperty("reasoning_content").GetString()!);
        string content = message.GetProperty("content").GetString()!;
        Assert.NotEmpty(content);
        Assert.Equal(content.TrimStart(), content);
    }

    [Fact]
    public void The_router_loads_a_models_tokenizer_and_template_without_its_weights()
    {
        var tokenizer = new ModelChoice { ModelPath = Bundled }.LoadTokenizer();
        Assert.Equal(ChatTemplateKind.DeepSeekR1, tokenizer.ChatTemplate?.Kind);
        var random = new ModelChoice { Random = true }.LoadTokenizer();
        Assert.Null(random.ChatTemplate);
        Assert.Throws<ModelLoadException>(() => new ModelChoice { ModelPath = Path.Combine(Bundled, "missing") }.LoadTokenizer());
    }
}
