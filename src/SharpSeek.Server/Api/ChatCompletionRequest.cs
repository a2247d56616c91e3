using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Inference.Tools;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Server.Api;

/// <summary>A validated /chat/completions (or /beta/completions) body.</summary>
public sealed record ChatCompletionRequest
{
    public required string Model { get; init; }
    public ChatMode Mode { get; init; }
    public IReadOnlyList<PromptMessage> Messages { get; init; } = [];
    /// <summary>FIM: prompt and suffix (the /beta/completions body).</summary>
    public string? Prompt { get; init; }
    public string? Suffix { get; init; }
    public bool Echo { get; init; }
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    public int? MaxTokens { get; init; }
    public SamplingSettings Sampling { get; init; } = SamplingSettings.Default;
    public IReadOnlyList<string> Stop { get; init; } = [];
    public bool JsonObject { get; init; }
    public bool Logprobs { get; init; }
    public int TopLogprobs { get; init; }
    /// <summary>Extension (as in vLLM): never stop at end-of-sequence, generate max_tokens (benchmarks, load tests).</summary>
    public bool IgnoreEos { get; init; }
    /// <summary>The request asked for thinking explicitly (<c>thinking.type: enabled</c>), so a model without reasoning markers is an error.</summary>
    public bool ThinkingRequested { get; init; }
    /// <summary>Reasoning-token budget from <c>reasoning_effort</c>; null = the engine's default.</summary>
    public int? ReasoningBudget { get; init; }
    /// <summary>The request's tools and tool_choice, compiled; null when it has none.</summary>
    public ToolSet? Tools { get; init; }

    public const string ChatModel = "deepseek-chat";
    public const string ReasonerModel = "deepseek-reasoner";

    /// <summary>
    /// Parses and validates; throws <see cref="ApiException"/> 400 for a malformed body, 422 for out-of-range values.
    /// <paramref name="servedModelName"/> (the served model's own name, as /models lists it) is accepted as a chat model.
    /// </summary>
    /// <paramref name="beta"/>: the request came through the /beta base URL (strict tools are allowed there only).
    public static ChatCompletionRequest Parse(ReadOnlySpan<byte> body, bool fillInTheMiddle, string? servedModelName = null, bool beta = false)
    {
        using (var doc = ParseBody(body))
        {
            var root = doc.RootElement;
            string model = RequiredString(root, "model");
            ChatMode mode = model switch
            {
                ChatModel => ChatMode.Chat,
                ReasonerModel => ChatMode.Reasoner,
                _ when model == servedModelName => ChatMode.Chat,
                _ => throw new ApiException(400, "Model Not Exist", "invalid_request_error", "model_not_found", "model"),
            };
            bool? thinking = Thinking(root);
            if (thinking is bool on) mode = on ? ChatMode.Reasoner : ChatMode.Chat;
            if (fillInTheMiddle && mode == ChatMode.Reasoner) throw ApiException.BadRequest("FIM completion is available for deepseek-chat without thinking only.", thinking is null ? "model" : "thinking");
            int? reasoningBudget = ReasoningEffort(root, mode);

            bool reasoner = mode == ChatMode.Reasoner;
            var sampling = new SamplingSettings
            {
                Temperature = (float)(Number(root, "temperature", 0, 2) ?? 1),
                TopP = (float)(Number(root, "top_p", 0, 1, minExclusive: true) ?? 1),
                TopK = (int)(Integer(root, "top_k", 0, 1_000_000) ?? 0),
                FrequencyPenalty = (float)(Number(root, "frequency_penalty", -2, 2) ?? 0),
                PresencePenalty = (float)(Number(root, "presence_penalty", -2, 2) ?? 0),
                Seed = Integer(root, "seed", long.MinValue, long.MaxValue) is long seed ? unchecked((ulong)seed) : null,
            };
            // The reasoner accepts these parameters and ignores them, as DeepSeek's API does.
            if (reasoner) sampling = SamplingSettings.Default with { Seed = sampling.Seed };

            long? n = Integer(root, "n", long.MinValue, long.MaxValue);
            if (n is not null and not 1) throw ApiException.InvalidParameter("Only n = 1 is supported.", "n");
            long? maxTokens = Integer(root, "max_tokens", 1, int.MaxValue);
            if (maxTokens is null && root.TryGetProperty("max_completion_tokens", out _)) maxTokens = Integer(root, "max_completion_tokens", 1, int.MaxValue);

            bool stream = Bool(root, "stream") ?? false;
            bool includeUsage = false;
            if (root.TryGetProperty("stream_options", out var so) && so.ValueKind != JsonValueKind.Null)
            {
                if (so.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("stream_options must be an object.", "stream_options");
                includeUsage = Bool(so, "include_usage", "stream_options.include_usage") ?? false;
            }

            var stop = Stops(root);
            bool json = false;
            if (root.TryGetProperty("response_format", out var rf) && rf.ValueKind != JsonValueKind.Null)
            {
                if (rf.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("response_format must be an object.", "response_format");
                string type = RequiredString(rf, "type", "response_format.type");
                json = type switch
                {
                    "text" => false,
                    "json_object" => true,
                    _ => throw ApiException.InvalidParameter($"response_format.type must be 'text' or 'json_object', got '{type}'.", "response_format.type"),
                };
            }
            // Chat: logprobs is a boolean plus top_logprobs; legacy completions (FIM): logprobs is the number of alternatives.
            bool logprobs = !fillInTheMiddle && (Bool(root, "logprobs") ?? false);
            int topLogprobs = (int)((fillInTheMiddle ? Integer(root, "logprobs", 0, 20) : Integer(root, "top_logprobs", 0, 20)) ?? 0);
            if (!fillInTheMiddle && topLogprobs > 0 && !logprobs) throw ApiException.InvalidParameter("top_logprobs requires logprobs: true.", "top_logprobs");
            ToolSet? tools = fillInTheMiddle ? null : ToolRequest.Parse(root, beta);
            if (json && tools is not null && tools.Choice.Kind != ToolChoiceKind.None)
                throw ApiException.BadRequest("response_format json_object cannot be combined with tool calls; use tool_choice 'none' or drop response_format.", "response_format");

            if (fillInTheMiddle)
            {
                string prompt = RequiredString(root, "prompt");
                string? suffix = OptionalString(root, "suffix");
                return new ChatCompletionRequest
                {
                    Model = model, Mode = mode, Prompt = prompt, Suffix = suffix, Echo = Bool(root, "echo") ?? false,
                    Stream = stream, IncludeUsage = includeUsage, MaxTokens = (int?)maxTokens, Sampling = sampling, Stop = stop,
                    Logprobs = fillInTheMiddle && root.TryGetProperty("logprobs", out var lp) && lp.ValueKind == JsonValueKind.Number, TopLogprobs = topLogprobs,
                    IgnoreEos = Bool(root, "ignore_eos") ?? false,
                };
            }

            return new ChatCompletionRequest
            {
                Model = model, Mode = mode, Messages = ParseMessages(root, reasoner), Stream = stream, IncludeUsage = includeUsage,
                MaxTokens = (int?)maxTokens, Sampling = sampling, Stop = stop, JsonObject = json,
                Logprobs = logprobs && !reasoner, TopLogprobs = reasoner ? 0 : topLogprobs,
                IgnoreEos = Bool(root, "ignore_eos") ?? false, ThinkingRequested = thinking == true, ReasoningBudget = reasoningBudget,
                Tools = tools,
            };
        }
    }

    /// <summary><c>thinking: {"type": "enabled" | "disabled"}</c> switches reasoning on either model; null when absent.</summary>
    private static bool? Thinking(JsonElement root)
    {
        if (!root.TryGetProperty("thinking", out var t) || t.ValueKind == JsonValueKind.Null) return null;
        if (t.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("thinking must be an object like {\"type\": \"enabled\"}.", "thinking");
        string type = RequiredString(t, "type", "thinking.type");
        return type switch
        {
            "enabled" => true,
            "disabled" => false,
            _ => throw ApiException.InvalidParameter($"thinking.type must be 'enabled' or 'disabled', got '{type}'.", "thinking.type"),
        };
    }

    /// <summary>Reasoning-token budgets for <c>reasoning_effort</c> (docs/api.md, "Thinking controls"); OpenAI's names map to the nearest one.</summary>
    public const int LowEffortBudget = 1024, HighEffortBudget = 8192;

    private static int? ReasoningEffort(JsonElement root, ChatMode mode)
    {
        string? effort = OptionalString(root, "reasoning_effort");
        if (effort is null) return null;
        int? budget = effort switch
        {
            "minimal" or "low" => LowEffortBudget,
            "medium" or "high" => HighEffortBudget,
            "max" => null,
            _ => throw ApiException.InvalidParameter($"reasoning_effort must be 'low', 'high' or 'max', got '{effort}'.", "reasoning_effort"),
        };
        // Without thinking there is nothing to budget; DeepSeek accepts the field there and ignores it.
        return mode == ChatMode.Reasoner ? budget : null;
    }

    private static List<PromptMessage> ParseMessages(JsonElement root, bool reasoner)
    {
        if (!root.TryGetProperty("messages", out var messages)) throw ApiException.BadRequest("Missing required parameter: 'messages'.", "messages");
        if (messages.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("messages must be an array.", "messages");
        if (messages.GetArrayLength() == 0) throw ApiException.BadRequest("messages must not be empty.", "messages");
        var list = new List<PromptMessage>();
        // DeepSeek's tool-loop rule: the reasoning of an assistant turn that called tools after the last user message
        // (the loop still running) comes back with it; reasoning anywhere else is refused.
        int lastUser = -1, index = 0;
        foreach (var m in messages.EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.Object && m.TryGetProperty("role", out var r) && TextIs(r, "user")) lastUser = index;
            index++;
        }
        int i = 0;
        foreach (var m in messages.EnumerateArray())
        {
            string path = $"messages[{i}]";
            if (m.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"{path} must be an object.", path);
            string role = RequiredString(m, "role", path + ".role");
            if (role is not ("system" or "user" or "assistant" or "tool"))
                throw ApiException.BadRequest($"{path}.role must be system, user, assistant or tool, got '{role}'.", path + ".role");
            string? content = Content(m, path);
            string? reasoning = reasoner ? OptionalString(m, "reasoning_content", path + ".reasoning_content") : null;
            bool inToolLoop = role == "assistant" && i > lastUser && m.TryGetProperty("tool_calls", out var loopCalls) && loopCalls.ValueKind == JsonValueKind.Array && loopCalls.GetArrayLength() > 0;
            if (reasoning is not null && !inToolLoop)
                throw ApiException.BadRequest($"{path}.reasoning_content must not be sent back: earlier reasoning is not part of the input (only an assistant turn that called tools after the last user message carries it).", path + ".reasoning_content");
            List<ChatToolCall>? calls = null;
            if (m.TryGetProperty("tool_calls", out var tc) && tc.ValueKind != JsonValueKind.Null)
            {
                if (role != "assistant") throw ApiException.BadRequest($"{path}.tool_calls is only allowed on assistant messages.", path + ".tool_calls");
                if (tc.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest($"{path}.tool_calls must be an array.", path + ".tool_calls");
                calls = [];
                int j = 0;
                foreach (var call in tc.EnumerateArray())
                {
                    string cp = $"{path}.tool_calls[{j++}]";
                    if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("function", out var fn) || fn.ValueKind != JsonValueKind.Object)
                        throw ApiException.BadRequest($"{cp} must be an object with a function.", cp);
                    string type = OptionalString(call, "type", cp + ".type") ?? "function";
                    if (type != "function") throw ApiException.BadRequest($"{cp}.type must be 'function', got '{type}'.", cp + ".type");
                    calls.Add(new ChatToolCall(RequiredString(fn, "name", cp + ".function.name"), OptionalString(fn, "arguments", cp + ".function.arguments") ?? "{}"));
                }
                // An assistant turn that only calls tools often arrives with "" for content; the template needs null there
                // to render the calls (a turn with text renders its text and drops its calls).
                if (calls.Count > 0 && content is "") content = null;
            }
            if (role == "tool" && (!m.TryGetProperty("tool_call_id", out var tcid) || tcid.ValueKind != JsonValueKind.String))
                throw ApiException.BadRequest($"{path}.tool_call_id is required (a string) for role 'tool'.", path + ".tool_call_id");
            bool prefix = Bool(m, "prefix", path + ".prefix") ?? false;
            if (content is null && !(role == "assistant" && calls is { Count: > 0 }))
                throw ApiException.BadRequest($"{path}.content is required for role '{role}'.", path + ".content");
            list.Add(new PromptMessage(role, content, calls, prefix, reasoning));
            i++;
        }
        if (list[^1].Prefix && list[^1].Role != "assistant") throw ApiException.BadRequest("prefix: true is only allowed on a final assistant message.", "messages");
        if (list.Take(list.Count - 1).Any(m => m.Prefix)) throw ApiException.BadRequest("prefix: true is only allowed on the last message.", "messages");
        if (!list.Any(m => m.Role == "user")) throw ApiException.BadRequest("messages must contain at least one user message.", "messages");
        return list;
    }

    private static string? Content(JsonElement m, string path)
    {
        if (!m.TryGetProperty("content", out var c) || c.ValueKind == JsonValueKind.Null) return null;
        if (c.ValueKind == JsonValueKind.String) return Text(c, path + ".content");
        if (c.ValueKind == JsonValueKind.Array)
        {
            var sb = new System.Text.StringBuilder();
            foreach (var part in c.EnumerateArray())
            {
                if (part.ValueKind != JsonValueKind.Object || OptionalString(part, "type", path + ".content[].type") != "text")
                    throw ApiException.BadRequest($"{path}.content parts must be of type 'text'.", path + ".content");
                sb.Append(RequiredString(part, "text", path + ".content[].text"));
            }
            return sb.ToString();
        }
        throw ApiException.BadRequest($"{path}.content must be a string or an array of text parts.", path + ".content");
    }

    private static List<string> Stops(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var s) || s.ValueKind == JsonValueKind.Null) return [];
        if (s.ValueKind == JsonValueKind.String) return [Text(s, "stop")];
        if (s.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("stop must be a string or an array of strings.", "stop");
        var list = new List<string>();
        foreach (var e in s.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.String) throw ApiException.BadRequest("stop must be a string or an array of strings.", "stop");
            list.Add(Text(e, "stop"));
        }
        if (list.Count > 16) throw ApiException.InvalidParameter("stop holds at most 16 strings.", "stop");
        return list;
    }

    internal static string RequiredString(JsonElement o, string name, string? path = null)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) throw ApiException.BadRequest($"Missing required parameter: '{path ?? name}'.", path ?? name);
        if (v.ValueKind != JsonValueKind.String) throw ApiException.BadRequest($"'{path ?? name}' must be a string.", path ?? name);
        return Text(v, path ?? name);
    }

    /// <summary>
    /// A request body as a JSON object whose every name and string decodes (<see cref="RequireUnicodeText"/>), or a 400
    /// saying what is wrong: not UTF-8, not JSON, nested deeper than 64, not an object. Every endpoint's parser starts here.
    /// </summary>
    internal static JsonDocument ParseBody(ReadOnlySpan<byte> body)
    {
        // System.Text.Json checks UTF-8 only when a string is read; checking once here makes every later read safe.
        if (!System.Text.Unicode.Utf8.IsValid(body)) throw ApiException.BadRequest("The request body is not valid UTF-8.");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(body.ToArray(), new JsonDocumentOptions { MaxDepth = 64 }); }
        catch (JsonException e) { throw ApiException.BadRequest($"Invalid JSON in request body: {e.Message}"); }
        try
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("The request body must be a JSON object.");
            RequireUnicodeText(doc.RootElement);
            return doc;
        }
        catch
        {
            doc.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Decodes every property name and string of the body once, up front. System.Text.Json decodes text only when it is
    /// read, and a name or string holding an unpaired surrogate escape ("\ud800") then throws InvalidOperationException
    /// from wherever that happens first — even from TryGetProperty, which compares names — so without this pass every
    /// field read (here, in ToolRequest, in the Anthropic translation) would need its own guard. The 400 names the field.
    /// </summary>
    internal static void RequireUnicodeText(JsonElement root)
    {
        if (BadTextAt(root) is not { } bad) return;
        string param = bad.Path.TrimStart('.');
        throw bad.InName
            ? ApiException.BadRequest($"A property name in '{(param.Length == 0 ? "the body" : param)}' holds an unpaired UTF-16 surrogate escape (such as \\ud800); names must be valid Unicode.", param.Length == 0 ? null : param)
            : ApiException.BadRequest($"'{param}' holds an unpaired UTF-16 surrogate escape (such as \\ud800); strings must be valid Unicode.", param);
    }

    /// <summary>The path of the first name or string that cannot be decoded, or null; the path is built only on the way out of a failure.</summary>
    private static (string Path, bool InName)? BadTextAt(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                try { _ = e.GetString(); return null; }
                catch (InvalidOperationException) { return ("", false); }
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in e.EnumerateArray())
                {
                    if (BadTextAt(item) is { } inner) return ($"[{i}]{inner.Path}", inner.InName);
                    i++;
                }
                return null;
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    string name;
                    try { name = p.Name; }
                    catch (InvalidOperationException) { return ("", true); }
                    if (BadTextAt(p.Value) is { } inner) return ("." + name + inner.Path, inner.InName);
                }
                return null;
            default:
                return null;
        }
    }

    /// <summary>
    /// A JSON string's text. JSON may escape a lone UTF-16 surrogate ("\ud800"), which is no text at all: reading it
    /// throws, so it is a 400 naming the field, like any other malformed value.
    /// </summary>
    internal static string Text(JsonElement v, string path)
    {
        try { return v.GetString()!; }
        catch (InvalidOperationException) { throw ApiException.BadRequest($"'{path}' holds an unpaired UTF-16 surrogate escape (such as \\ud800); strings must be valid Unicode.", path); }
    }

    /// <summary>Whether <paramref name="v"/> is the string <paramref name="expected"/>; a value that is no valid text is not.</summary>
    internal static bool TextIs(JsonElement v, string expected)
    {
        if (v.ValueKind != JsonValueKind.String) return false;
        try { return v.ValueEquals(expected); }
        catch (InvalidOperationException) { return false; }
    }

    internal static string? OptionalString(JsonElement o, string name, string? path = null)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String) throw ApiException.BadRequest($"'{path ?? name}' must be a string.", path ?? name);
        return Text(v, path ?? name);
    }

    internal static bool? Bool(JsonElement o, string name, string? path = null)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiException.BadRequest($"'{path ?? name}' must be a boolean.", path ?? name),
        };
    }

    internal static double? Number(JsonElement o, string name, double min, double max, bool minExclusive = false, string? path = null)
    {
        path ??= name;
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number) throw ApiException.BadRequest($"'{path}' must be a number.", path);
        double d = v.GetDouble();
        // The sampler works in single precision: a value that passes as a double but rounds past the bound as a float
        // (top_p 1e-46 becomes 0) is out of range too.
        float f = (float)d;
        if (!(minExclusive ? d > min && f > min : d >= min) || !(d <= max) || double.IsNaN(d))
            throw ApiException.InvalidParameter($"'{path}' must be in {(minExclusive ? "(" : "[")}{min}, {max}], got {d}{(d > min && !(f > min) ? $" ({f} in single precision)" : "")}.", path);
        return d;
    }

    internal static long? Integer(JsonElement o, string name, long min, long max, string? path = null)
    {
        path ??= name;
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.True || v.ValueKind == JsonValueKind.False) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long x)) throw ApiException.BadRequest($"'{path}' must be an integer.", path);
        if (x < min || x > max) throw ApiException.InvalidParameter($"'{path}' must be in [{min}, {max}], got {x}.", path);
        return x;
    }
}
