using System.Net;
using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary>Status codes, error bodies and response shapes of the DeepSeek-compatible HTTP contract, over real HTTP.</summary>
public sealed class HttpContractTests : IAsyncLifetime
{
    private SharpSeekServer _server = null!;

    public async Task InitializeAsync() => _server = await ServerHarness.StartAsync();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static async Task<JsonElement> ErrorOf(HttpResponseMessage r)
    {
        var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        var e = doc.RootElement.GetProperty("error");
        Assert.Equal(JsonValueKind.String, e.GetProperty("message").ValueKind);
        Assert.Equal(JsonValueKind.String, e.GetProperty("type").ValueKind);
        Assert.True(e.TryGetProperty("param", out _));
        Assert.True(e.TryGetProperty("code", out _));
        return e;
    }

    [Theory]
    [InlineData("{not json", 400)]
    [InlineData("[]", 400)]
    [InlineData("{\"model\":\"deepseek-chat\"}", 400)]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[]}", 400)]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", 400)]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400)]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}", 400)]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_p\":0}", 422)]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}", 422)]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":999999}", 422)]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"presence_penalty\":-3}", 422)]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"xml\"}}", 422)]
    [InlineData("{\"model\":\"deepseek-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}", 422)]
    [InlineData("{\"model\":\"deepseek-reasoner\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":\"y\",\"reasoning_content\":\"z\"},{\"role\":\"user\",\"content\":\"w\"}]}", 400)]
    public async Task Bad_requests_get_the_error_body_with_the_right_code(string body, int status)
    {
        using var http = ServerHarness.Http(_server);
        var r = await http.PostAsync("chat/completions", ServerHarness.Json(body));
        Assert.Equal(status, (int)r.StatusCode);
        await ErrorOf(r);
    }

    [Fact]
    public async Task Missing_or_wrong_key_is_401_everywhere()
    {
        using var none = ServerHarness.Http(_server, key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await none.PostAsync("chat/completions", ServerHarness.Json("{}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await none.GetAsync("models")).StatusCode);
        using var wrong = ServerHarness.Http(_server, key: "sk-nope");
        var r = await wrong.GetAsync("user/balance");
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.Equal("authentication_error", (await ErrorOf(r)).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Reasoner_accepts_and_ignores_sampling_parameters()
    {
        using var http = ServerHarness.Http(_server);
        var r = await http.PostAsync("chat/completions", ServerHarness.Json("""
            {"model":"deepseek-reasoner","messages":[{"role":"user","content":"think"}],"max_tokens":10,"temperature":0.2,"top_p":0.5,"presence_penalty":1,"frequency_penalty":1,"logprobs":true}
            """));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("choices")[0].GetProperty("logprobs").ValueKind);
    }

    [Fact]
    public async Task Reasoner_json_shape()
    {
        using var http = ServerHarness.Http(_server);
        var r = await http.PostAsync("chat/completions", ServerHarness.Json("""
            {"model":"deepseek-reasoner","messages":[{"role":"user","content":"think"}],"max_tokens":30,"seed":1}
            """));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        Assert.Equal("chat.completion", root.GetProperty("object").GetString());
        Assert.Equal(JsonValueKind.Number, root.GetProperty("created").ValueKind);
        var choice = root.GetProperty("choices")[0];
        Assert.Equal(JsonValueKind.String, choice.GetProperty("message").GetProperty("reasoning_content").ValueKind);
        var usage = root.GetProperty("usage");
        int reasoning = usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32();
        Assert.InRange(reasoning, 1, 30);
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32(),
            usage.GetProperty("prompt_cache_hit_tokens").GetInt32() + usage.GetProperty("prompt_cache_miss_tokens").GetInt32());
    }

    [Fact]
    public async Task Streaming_sends_reasoning_then_content_then_usage_then_done()
    {
        using var http = ServerHarness.Http(_server);
        var r = await http.PostAsync("chat/completions", ServerHarness.Json("""
            {"model":"deepseek-reasoner","messages":[{"role":"user","content":"stream"}],"max_tokens":40,"stream":true,"stream_options":{"include_usage":true},"seed":2}
            """));
        Assert.Equal("text/event-stream", r.Content.Headers.ContentType!.MediaType);
        var lines = (await r.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.StartsWith("data: ", l));
        Assert.Equal("data: [DONE]", lines[^1]);
        var chunks = lines[..^1].Select(l => JsonDocument.Parse(l[6..]).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var usageChunk = chunks[^1];
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        Assert.True(usageChunk.GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 0);
        Assert.NotEqual(JsonValueKind.Null, chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").ValueKind);
        bool sawContent = false;
        foreach (var c in chunks.Take(chunks.Count - 1))
        {
            var delta = c.GetProperty("choices")[0].GetProperty("delta");
            bool content = delta.TryGetProperty("content", out var ct) && ct.ValueKind == JsonValueKind.String && ct.GetString()!.Length > 0;
            bool reasoning = delta.TryGetProperty("reasoning_content", out var rc) && rc.ValueKind == JsonValueKind.String && rc.GetString()!.Length > 0;
            if (content) sawContent = true;
            Assert.False(reasoning && sawContent, "reasoning after content");
        }
    }

    [Fact]
    public async Task Json_object_mode_returns_parseable_json_when_it_stops()
    {
        using var http = ServerHarness.Http(_server);
        for (int seed = 1; seed <= 4; seed++)
        {
            string body = """{"model":"deepseek-chat","messages":[{"role":"user","content":"Reply in json"}],"max_tokens":200,"seed":SEED,"response_format":{"type":"json_object"}}""";
            var r = await http.PostAsync("chat/completions", ServerHarness.Json(body.Replace("SEED", seed.ToString(System.Globalization.CultureInfo.InvariantCulture))));
            using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            var choice = doc.RootElement.GetProperty("choices")[0];
            string content = choice.GetProperty("message").GetProperty("content").GetString()!;
            Assert.StartsWith("{", content);
            if (choice.GetProperty("finish_reason").GetString() == "stop")
                Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(content).RootElement.ValueKind);
        }
    }

    [Fact]
    public async Task Logprobs_are_returned_for_content_tokens()
    {
        using var http = ServerHarness.Http(_server);
        var r = await http.PostAsync("chat/completions", ServerHarness.Json("""
            {"model":"deepseek-chat","messages":[{"role":"user","content":"x"}],"max_tokens":5,"logprobs":true,"top_logprobs":3,"ignore_eos":true}
            """));
        using var doc = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
        var content = doc.RootElement.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content");
        Assert.Equal(5, content.GetArrayLength());
        foreach (var t in content.EnumerateArray())
        {
            Assert.True(t.GetProperty("logprob").GetDouble() <= 0);
            Assert.Equal(3, t.GetProperty("top_logprobs").GetArrayLength());
        }
    }

    [Fact]
    public async Task Models_balance_health_metrics_and_fim()
    {
        using var http = ServerHarness.Http(_server);
        using var models = JsonDocument.Parse(await http.GetStringAsync("models"));
        Assert.Equal("list", models.RootElement.GetProperty("object").GetString());
        var ids = models.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToList();
        Assert.Contains("deepseek-chat", ids);
        Assert.Contains("deepseek-reasoner", ids);

        using var balance = JsonDocument.Parse(await http.GetStringAsync("user/balance"));
        Assert.True(balance.RootElement.GetProperty("is_available").GetBoolean());
        var info = balance.RootElement.GetProperty("balance_infos")[0];
        Assert.Equal("CNY", info.GetProperty("currency").GetString());
        Assert.Equal("10.00", info.GetProperty("granted_balance").GetString());

        var fim = await http.PostAsync("beta/completions", ServerHarness.Json("""
            {"model":"deepseek-chat","prompt":"def add(a, b):","suffix":"    return c","max_tokens":8}
            """));
        Assert.Equal(HttpStatusCode.OK, fim.StatusCode);
        using var fimDoc = JsonDocument.Parse(await fim.Content.ReadAsStringAsync());
        Assert.Equal("text_completion", fimDoc.RootElement.GetProperty("object").GetString());
        Assert.Equal(JsonValueKind.String, fimDoc.RootElement.GetProperty("choices")[0].GetProperty("text").ValueKind);

        Assert.Contains("\"status\":\"ok\"", await http.GetStringAsync("health"));
        string metrics = await http.GetStringAsync("metrics");
        Assert.Contains("sharpseek_requests_total{endpoint=\"/beta/completions\",code=\"200\"} 1", metrics);
        Assert.Contains("# TYPE sharpseek_time_to_first_token_seconds histogram", metrics);
        // The engine's batching and memory are visible: it has run passes and owns a page pool.
        Assert.Matches(@"sharpseek_engine_steps_total [1-9]", metrics);
        Assert.Matches(@"sharpseek_kv_pages [1-9]", metrics);
    }
}
