using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SharpSeek.Inference;

namespace SharpSeek.Server.Api.Anthropic;

/// <summary>
/// Anthropic Messages response shapes: the whole message (non-streaming), the server-sent events of a stream, and
/// errors (<c>{"type":"error","error":{type, message}}</c>). Usage follows Anthropic's split: <c>input_tokens</c>
/// counts the prompt tokens that were computed, <c>cache_read_input_tokens</c> the ones served from the context cache.
/// </summary>
internal static class AnthropicResponse
{
    /// <summary>Anthropic's stop_reason: a closed list of tool calls, the token limit, a stop string, or the model's own end.</summary>
    public static string StopReason(GenerationResult result) =>
        result.EndedWithToolCalls ? "tool_use"
        : result.FinishReason == FinishReason.Length ? "max_tokens"
        : result.StopSequence is not null ? "stop_sequence"
        : "end_turn";

    /// <summary>Anthropic's id form for one of our tool-call ids (<c>call_…</c> becomes <c>toolu_…</c>).</summary>
    public static string ToolUseId(string callId) =>
        "toolu_" + (callId.StartsWith("call_", StringComparison.Ordinal) ? callId["call_".Length..] : callId);

    /// <summary>
    /// A thinking block's signature. Anthropic's clients carry it back unread; ours is a digest of the thinking text,
    /// so a client that round-trips it can be checked without the server keeping state.
    /// </summary>
    public static string Signature(string thinking) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(thinking)));

    public static void WriteUsage(Utf8JsonWriter w, GenerationUsage u)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("input_tokens", u.PromptCacheMissTokens);
        w.WriteNumber("cache_creation_input_tokens", 0);
        w.WriteNumber("cache_read_input_tokens", u.CachedPromptTokens);
        w.WriteNumber("output_tokens", u.CompletionTokens);
        w.WriteEndObject();
    }

    /// <summary>The whole message: thinking, text and tool_use blocks in the order the model produced them.</summary>
    public static void WriteMessage(Utf8JsonWriter w, string id, string model, GenerationResult result)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("type", "message");
        w.WriteString("role", "assistant");
        w.WriteString("model", model);
        w.WriteStartArray("content");
        if (result.Reasoning.Length > 0)
        {
            w.WriteStartObject();
            w.WriteString("type", "thinking");
            w.WriteString("thinking", result.Reasoning);
            w.WriteString("signature", Signature(result.Reasoning));
            w.WriteEndObject();
        }
        if (result.Content.Length > 0)
        {
            w.WriteStartObject();
            w.WriteString("type", "text");
            w.WriteString("text", result.Content);
            w.WriteEndObject();
        }
        foreach (var call in result.ToolCalls)
        {
            w.WriteStartObject();
            w.WriteString("type", "tool_use");
            w.WriteString("id", ToolUseId(call.Id));
            w.WriteString("name", call.Name);
            w.WritePropertyName("input");
            WriteInput(w, call.Arguments);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteString("stop_reason", StopReason(result));
        if (result.StopSequence is null) w.WriteNull("stop_sequence"); else w.WriteString("stop_sequence", result.StopSequence);
        WriteUsage(w, result.Usage);
        w.WriteEndObject();
    }

    // Arguments the grammar produced are one JSON object; anything else (an unconstrained call cut short) is passed
    // as a string field so the client still sees what the model wrote.
    private static void WriteInput(Utf8JsonWriter w, string arguments)
    {
        try
        {
            using var doc = JsonDocument.Parse(arguments);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                doc.RootElement.WriteTo(w);
                return;
            }
        }
        catch (JsonException) { }
        w.WriteStartObject();
        w.WriteString("_raw_arguments", arguments);
        w.WriteEndObject();
    }

    /// <summary>Anthropic's status and error type for one of our API errors.</summary>
    public static (int Status, string Type) ErrorOf(ApiException e) => e.Status switch
    {
        400 or 422 => (400, "invalid_request_error"),
        401 => (401, "authentication_error"),
        402 => (402, "billing_error"),
        403 => (403, "permission_error"),
        404 => (404, "not_found_error"),
        413 => (413, "request_too_large"),
        429 => (429, "rate_limit_error"),
        503 => (529, "overloaded_error"),
        _ => (500, "api_error"),
    };

    public static void WriteError(Utf8JsonWriter w, ApiException e)
    {
        var (_, type) = ErrorOf(e);
        w.WriteStartObject();
        w.WriteString("type", "error");
        w.WriteStartObject("error");
        w.WriteString("type", type);
        w.WriteString("message", e.Param is null ? e.Message : $"{e.Param}: {e.Message}");
        w.WriteEndObject();
        w.WriteEndObject();
    }
}

/// <summary>
/// The event stream of one streamed message: <c>message_start</c>, then per content block <c>content_block_start</c>,
/// deltas and <c>content_block_stop</c>, then <c>message_delta</c> and <c>message_stop</c>; <c>ping</c> while queued.
/// Blocks open and close as the generated text moves from thinking to text to tool calls.
/// </summary>
internal sealed class AnthropicEventWriter : IDisposable
{
    private enum Block { None, Thinking, Text, ToolUse }

    private readonly ArrayBufferWriter<byte> _buffer;
    private readonly Utf8JsonWriter _json;
    private readonly StringBuilder _thinking = new();
    private Block _open;
    private int _index = -1;

    public AnthropicEventWriter(ArrayBufferWriter<byte> buffer)
    {
        _buffer = buffer;
        _json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    // The event line and the data prefix as constants: a stream writes one per token, without allocating.
    private static ReadOnlySpan<byte> Prefix(string name) => name switch
    {
        "message_start" => "event: message_start\ndata: "u8,
        "content_block_start" => "event: content_block_start\ndata: "u8,
        "content_block_delta" => "event: content_block_delta\ndata: "u8,
        "content_block_stop" => "event: content_block_stop\ndata: "u8,
        "message_delta" => "event: message_delta\ndata: "u8,
        "message_stop" => "event: message_stop\ndata: "u8,
        _ => "event: ping\ndata: "u8,
    };

    private Utf8JsonWriter Begin(string name)
    {
        _buffer.Write(Prefix(name));
        _json.Reset(_buffer);
        _json.WriteStartObject();
        _json.WriteString("type", name);
        return _json;
    }

    private void End()
    {
        _json.WriteEndObject();
        _json.Flush();
        _buffer.Write("\n\n"u8);
    }

    public void MessageStart(string id, string model, int promptTokens)
    {
        var w = Begin("message_start");
        w.WriteStartObject("message");
        w.WriteString("id", id);
        w.WriteString("type", "message");
        w.WriteString("role", "assistant");
        w.WriteString("model", model);
        w.WriteStartArray("content");
        w.WriteEndArray();
        w.WriteNull("stop_reason");
        w.WriteNull("stop_sequence");
        w.WriteStartObject("usage");
        w.WriteNumber("input_tokens", promptTokens);
        w.WriteNumber("output_tokens", 0);
        w.WriteEndObject();
        w.WriteEndObject();
        End();
    }

    public void Dispose() => _json.Dispose();

    public void Ping()
    {
        Begin("ping");
        End();
    }

    /// <summary>Generated text of <paramref name="channel"/>; opens a thinking or text block when it changes.</summary>
    public void Text(OutputChannel channel, string text)
    {
        if (text.Length == 0) return;
        var want = channel == OutputChannel.Reasoning ? Block.Thinking : Block.Text;
        if (_open != want) Open(want, null, null);
        if (want == Block.Thinking) _thinking.Append(text);
        var w = Begin("content_block_delta");
        w.WriteNumber("index", _index);
        w.WriteStartObject("delta");
        w.WriteString("type", want == Block.Thinking ? "thinking_delta" : "text_delta");
        w.WriteString(want == Block.Thinking ? "thinking" : "text", text);
        w.WriteEndObject();
        End();
    }

    /// <summary>A new tool call: a tool_use block with an empty input, whose JSON follows as fragments.</summary>
    public void ToolUseStart(string id, string name) => Open(Block.ToolUse, id, name);

    public void InputJson(string fragment)
    {
        if (_open != Block.ToolUse || fragment.Length == 0) return;
        var w = Begin("content_block_delta");
        w.WriteNumber("index", _index);
        w.WriteStartObject("delta");
        w.WriteString("type", "input_json_delta");
        w.WriteString("partial_json", fragment);
        w.WriteEndObject();
        End();
    }

    private void Open(Block block, string? id, string? name)
    {
        Close();
        _open = block;
        _index++;
        var w = Begin("content_block_start");
        w.WriteNumber("index", _index);
        w.WriteStartObject("content_block");
        switch (block)
        {
            case Block.Thinking:
                w.WriteString("type", "thinking");
                w.WriteString("thinking", "");
                w.WriteString("signature", "");
                break;
            case Block.Text:
                w.WriteString("type", "text");
                w.WriteString("text", "");
                break;
            default:
                w.WriteString("type", "tool_use");
                w.WriteString("id", id);
                w.WriteString("name", name);
                w.WriteStartObject("input");
                w.WriteEndObject();
                break;
        }
        w.WriteEndObject();
        End();
    }

    private void Close()
    {
        if (_open == Block.None) return;
        if (_open == Block.Thinking)
        {
            var s = Begin("content_block_delta");
            s.WriteNumber("index", _index);
            s.WriteStartObject("delta");
            s.WriteString("type", "signature_delta");
            s.WriteString("signature", AnthropicResponse.Signature(_thinking.ToString()));
            s.WriteEndObject();
            End();
        }
        var w = Begin("content_block_stop");
        w.WriteNumber("index", _index);
        End();
        _open = Block.None;
    }

    /// <summary>Closes the open block, then <c>message_delta</c> (stop reason, usage) and <c>message_stop</c>.</summary>
    public void Finish(GenerationResult result)
    {
        Close();
        var w = Begin("message_delta");
        w.WriteStartObject("delta");
        w.WriteString("stop_reason", AnthropicResponse.StopReason(result));
        if (result.StopSequence is null) w.WriteNull("stop_sequence"); else w.WriteString("stop_sequence", result.StopSequence);
        w.WriteEndObject();
        AnthropicResponse.WriteUsage(w, result.Usage);
        End();
        Begin("message_stop");
        End();
    }

    /// <summary>An error after the stream began (headers already sent).</summary>
    public void Error(ApiException e)
    {
        _buffer.Write("event: error\ndata: "u8);
        _json.Reset(_buffer);
        AnthropicResponse.WriteError(_json, e);
        _json.Flush();
        _buffer.Write("\n\n"u8);
    }
}
