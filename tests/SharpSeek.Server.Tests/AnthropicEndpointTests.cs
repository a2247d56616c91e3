using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Tests;

/// <summary>
/// /anthropic/v1/messages over real HTTP with a hand-written client of the Messages wire format
/// (<see cref="MessagesWireClient"/>): whole messages and event streams, thinking and tool_use blocks, tool results,
/// stop sequences, Anthropic's errors and overload status, and one ledger row per request.
/// </summary>
public sealed class AnthropicEndpointTests : IAsyncLifetime
{
    private SharpSeekServer _server = null!;
    private HttpClient _http = null!;
    private MessagesWireClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await ServerHarness.StartAsync();
        _http = ServerHarness.Http(_server, key: null);
        _client = new MessagesWireClient(_http, ServerHarness.Key);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private const string WeatherTool = """
        "tools":[{"name":"get_weather","description":"Current weather for a city",
                  "input_schema":{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]}},"required":["city","unit"]}}]
        """;

    private static string Signature(string thinking) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(thinking)));

    private static string Text(JsonObject message) =>
        string.Concat(message["content"]!.AsArray().Where(b => (string?)b!["type"] == "text").Select(b => (string?)b!["text"]));

    [Fact]
    public async Task A_streamed_reply_accumulates_to_the_same_message_as_a_whole_one()
    {
        const string body = """
            {"model":"claude-sonnet-4-5","max_tokens":24,"temperature":0,"system":"You are terse.",
             "messages":[{"role":"user","content":"Say something."}]}
            """;
        var whole = await _client.CreateAsync(body);
        Assert.Equal(HttpStatusCode.OK, whole.Status);
        var m = whole.Body;
        Assert.StartsWith("msg_", (string?)m["id"]);
        Assert.Equal("message", (string?)m["type"]);
        Assert.Equal("assistant", (string?)m["role"]);
        Assert.Equal("claude-sonnet-4-5", (string?)m["model"]); // echoed as sent
        Assert.Contains((string?)m["stop_reason"], new[] { "end_turn", "max_tokens" });
        Assert.Null(m["stop_sequence"]);
        var usage = m["usage"]!;
        Assert.True((int)usage["input_tokens"]! > 0);
        Assert.InRange((int)usage["output_tokens"]!, 1, 24);
        Assert.NotEmpty(Text(m));

        var streamed = await _client.StreamAsync(body.Replace("\"max_tokens\"", "\"stream\":true,\"max_tokens\""));
        Assert.Equal(HttpStatusCode.OK, streamed.Status);
        Assert.Equal(Text(m), Text(streamed.Body));
        Assert.Equal((string?)m["stop_reason"], (string?)streamed.Body["stop_reason"]);
        Assert.Equal((int)usage["output_tokens"]!, (int)streamed.Body["usage"]!["output_tokens"]!);
        int Prompt(JsonNode u) => (int)u["input_tokens"]! + (int)u["cache_read_input_tokens"]!;
        Assert.Equal(Prompt(usage), Prompt(streamed.Body["usage"]!));

        // One ledger row each, under this endpoint, billed at the chat price (an unknown model name maps to deepseek-chat).
        var ledger = await CachingAndAdmissionTests.WaitForLedger(_server, 2);
        Assert.Equal(2, ledger.Count(r => r.Endpoint == "/anthropic/v1/messages" && r.Model == "deepseek-chat"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_reasoner_answers_with_a_signed_thinking_block_first(bool stream)
    {
        string body = $$"""
            {"model":"deepseek-reasoner","max_tokens":40,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"think"}]}
            """;
        // Sampled: a random-weight model may close its reasoning at once now and then, so up to three tries must show
        // a thinking block first; every thinking block seen must carry the digest of its text.
        bool sawThinkingFirst = false;
        for (int attempt = 0; attempt < 3 && !sawThinkingFirst; attempt++)
        {
            var reply = stream ? await _client.StreamAsync(body) : await _client.CreateAsync(body);
            Assert.Equal(HttpStatusCode.OK, reply.Status);
            var blocks = reply.Body["content"]!.AsArray();
            foreach (var block in blocks.Where(b => (string?)b!["type"] == "thinking"))
                Assert.Equal(Signature((string?)block!["thinking"] ?? ""), (string?)block["signature"]);
            sawThinkingFirst = blocks.Count > 0 && (string?)blocks[0]!["type"] == "thinking" && ((string?)blocks[0]!["thinking"])?.Length > 0;
        }
        Assert.True(sawThinkingFirst, "no reply began with a thinking block");
    }

    [Fact]
    public async Task A_thinking_budget_turns_reasoning_on_for_any_model_name()
    {
        var reply = await _client.CreateAsync("""
            {"model":"claude-opus-4","max_tokens":1100,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"think"}]}
            """);
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        // The budget closes the reasoning: it never eats the whole reply.
        Assert.InRange((int)reply.Body["usage"]!["output_tokens"]!, 1, 1100);
        var ledger = await CachingAndAdmissionTests.WaitForLedger(_server, 1);
        int reasoning = Assert.Single(ledger).ReasoningTokens;
        Assert.InRange(reasoning, 0, 1024);
        // Reasoning was on: the reply shows it as a thinking block exactly when the model reasoned at all.
        var blocks = reply.Body["content"]!.AsArray();
        Assert.Equal(reasoning > 0, blocks.Count > 0 && (string?)blocks[0]!["type"] == "thinking");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_named_tool_is_called_with_schema_valid_input_and_its_result_continues_the_turn(bool stream)
    {
        string s = stream ? "true" : "false";
        var call = await (stream ? _client.StreamAsync : (Func<string, Task<MessagesWireClient.Reply>>)_client.CreateAsync)($$$"""
            {"model":"deepseek-chat","max_tokens":3000,"stream":{{{s}}},{{{WeatherTool}}},"tool_choice":{"type":"tool","name":"get_weather"},
             "messages":[{"role":"user","content":"Weather in Paris?"}]}
            """);
        Assert.Equal(HttpStatusCode.OK, call.Status);
        Assert.Equal("tool_use", (string?)call.Body["stop_reason"]);
        var use = call.Body["content"]!.AsArray().Single(b => (string?)b!["type"] == "tool_use")!;
        Assert.StartsWith("toolu_", (string?)use["id"]);
        Assert.Equal("get_weather", (string?)use["name"]);
        var input = use["input"]!.AsObject();
        Assert.Equal(JsonValueKind.String, input["city"]!.GetValueKind());
        Assert.Contains((string?)input["unit"], new[] { "c", "f" });

        // The client runs the tool and sends the result back; tool_choice none makes the model answer in text.
        string assistant = call.Body["content"]!.ToJsonString();
        var answer = await _client.CreateAsync($$$"""
            {"model":"deepseek-chat","max_tokens":16,{{{WeatherTool}}},"tool_choice":{"type":"none"},
             "messages":[{"role":"user","content":"Weather in Paris?"},
                         {"role":"assistant","content":{{{assistant}}}},
                         {"role":"user","content":[{"type":"tool_result","tool_use_id":{{{JsonSerializer.Serialize((string?)use["id"])}}},"content":"18 C, sunny"}]}]}
            """);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.NotEqual("tool_use", (string?)answer.Body["stop_reason"]);
        Assert.DoesNotContain(answer.Body["content"]!.AsArray(), b => (string?)b!["type"] == "tool_use");
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_reply_and_is_reported()
    {
        const string body = """{"model":"deepseek-chat","max_tokens":40,"temperature":0,"messages":[{"role":"user","content":"Write anything."}]}""";
        string free = Text((await _client.CreateAsync(body)).Body);
        Assert.True(free.Length >= 6, "the greedy reply is long enough to cut: " + free);
        string stop = free.Substring(3, 2);
        string expected = free[..free.IndexOf(stop, StringComparison.Ordinal)];
        foreach (bool stream in new[] { false, true })
        {
            string cut = body.Replace("\"max_tokens\"", $"\"stream\":{(stream ? "true" : "false")},\"stop_sequences\":[\"zzzz\",{JsonSerializer.Serialize(stop)}],\"max_tokens\"");
            var reply = stream ? await _client.StreamAsync(cut) : await _client.CreateAsync(cut);
            Assert.Equal("stop_sequence", (string?)reply.Body["stop_reason"]);
            Assert.Equal(stop, (string?)reply.Body["stop_sequence"]);
            Assert.Equal(expected, Text(reply.Body));
        }
    }

    [Fact]
    public async Task Keys_come_as_x_api_key_or_bearer_and_errors_have_anthropics_shape()
    {
        const string ok = """{"model":"deepseek-chat","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}""";
        static void IsError(MessagesWireClient.Reply r, HttpStatusCode status, string type)
        {
            Assert.Equal(status, r.Status);
            Assert.Equal("error", (string?)r.Body["type"]);
            Assert.Equal(type, (string?)r.Body["error"]!["type"]);
            Assert.False(string.IsNullOrEmpty((string?)r.Body["error"]!["message"]));
        }

        IsError(await new MessagesWireClient(_http, null).CreateAsync(ok), HttpStatusCode.Unauthorized, "authentication_error");
        IsError(await new MessagesWireClient(_http, "sk-wrong").CreateAsync(ok), HttpStatusCode.Unauthorized, "authentication_error");
        using (var bearer = ServerHarness.Http(_server))
        {
            var r = await bearer.PostAsync(MessagesWireClient.Path, ServerHarness.Json(ok));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        var missing = await _client.CreateAsync("""{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}]}""");
        IsError(missing, HttpStatusCode.BadRequest, "invalid_request_error");
        Assert.Contains("max_tokens", (string?)missing.Body["error"]!["message"]);
        // A schema the grammar cannot enforce on a forced call is refused, naming the Anthropic field.
        var unsupported = await _client.CreateAsync("""
            {"model":"deepseek-chat","max_tokens":20,"tools":[{"name":"f","input_schema":{"type":"object","patternProperties":{"^x":{"type":"string"}}}}],
             "tool_choice":{"type":"any"},"messages":[{"role":"user","content":"hi"}]}
            """);
        IsError(unsupported, HttpStatusCode.BadRequest, "invalid_request_error");
        Assert.Contains("tools[0].input_schema", (string?)unsupported.Body["error"]!["message"]);
        var streamedError = await _client.StreamAsync("""{"model":"deepseek-chat","stream":true,"max_tokens":0,"messages":[{"role":"user","content":"hi"}]}""");
        IsError(streamedError, HttpStatusCode.BadRequest, "invalid_request_error"); // refused before the stream began: a plain error body
        // An agent's max_tokens ceiling above the context window is an upper bound, not an error.
        Assert.Equal(HttpStatusCode.OK, (await _client.CreateAsync("""{"model":"deepseek-chat","max_tokens":64000,"stop_sequences":["\n"],"temperature":0,"messages":[{"role":"user","content":"hi"}]}""")).Status);
    }

    [Fact]
    public async Task A_queued_stream_gets_pings_after_message_start_and_a_full_server_is_529_overloaded()
    {
        // One slot and one queue place; the slot is held by a long OpenAI-format generation on the small model.
        var options = ServerHarness.Options(engine: new EngineOptions { MaxContext = 16384, MaxConcurrentSequences = 1, MaxQueuedRequests = 1 });
        using var small = ServedModel.CreateRandom(RandomModelSize.Small, seed: 3, maxPositions: 16384);
        await using var server = await SharpSeekServer.StartAsync(options, small);
        using var http = ServerHarness.Http(server);
        using var hold = new CancellationTokenSource();
        var holder = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "chat/completions")
        {
            Content = ServerHarness.Json("""{"model":"deepseek-chat","messages":[{"role":"user","content":"go on"}],"max_tokens":16000,"ignore_eos":true,"stream":true}"""),
        }, HttpCompletionOption.ResponseHeadersRead, hold.Token);
        await CachingAndAdmissionTests.WaitUntil(() => server.Engine.RunningSequences == 1);

        var waiting = new HttpRequestMessage(HttpMethod.Post, MessagesWireClient.Path)
        {
            Content = ServerHarness.Json("""{"model":"deepseek-chat","max_tokens":3,"stream":true,"messages":[{"role":"user","content":"q"}]}"""),
        };
        waiting.Headers.Add("x-api-key", ServerHarness.Key);
        var waiterTask = http.SendAsync(waiting, HttpCompletionOption.ResponseHeadersRead);
        await CachingAndAdmissionTests.WaitUntil(() => server.Engine.QueuedRequests == 1);

        var full = await new MessagesWireClient(http, ServerHarness.Key).CreateAsync("""{"model":"deepseek-chat","max_tokens":3,"messages":[{"role":"user","content":"q"}]}""");
        Assert.Equal((HttpStatusCode)529, full.Status);
        Assert.Equal("overloaded_error", (string?)full.Body["error"]!["type"]);

        var waiter = await waiterTask.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, waiter.StatusCode);
        var reader = new StreamReader(await waiter.Content.ReadAsStreamAsync());
        Assert.Equal("event: message_start", await reader.ReadLineAsync());
        await reader.ReadLineAsync(); // its data
        await reader.ReadLineAsync(); // blank
        Assert.Equal("event: ping", await reader.ReadLineAsync());
        Assert.Equal("""data: {"type":"ping"}""", await reader.ReadLineAsync());
        await reader.ReadLineAsync(); // blank

        hold.Cancel(); // frees the slot: the waiter runs to its end
        holder.Dispose();
        var events = await MessagesWireClient.ReadEventsAsync(reader).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(events, e => e.Name == "message_start"); // sent once, before the pings
        Assert.Equal("message_stop", events[^1].Name);
    }
}
