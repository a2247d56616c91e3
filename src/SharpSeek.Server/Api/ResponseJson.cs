using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Inference.Tools;

namespace SharpSeek.Server.Api;

/// <summary>Writes the API's response bodies and stream chunks (OpenAI/DeepSeek shapes) with a <see cref="Utf8JsonWriter"/>.</summary>
internal static class ResponseJson
{
    public static string FinishReasonText(FinishReason reason) => reason switch
    {
        FinishReason.Length => "length",
        FinishReason.Error => "insufficient_system_resource",
        _ => "stop",
    };

    /// <summary>A finished chat's finish_reason: "tool_calls" when the reply closed its tool calls.</summary>
    public static string FinishReasonText(GenerationResult result) => result.EndedWithToolCalls ? "tool_calls" : FinishReasonText(result.FinishReason);

    private static void WriteToolCall(Utf8JsonWriter w, int index, string? id, string? name, string arguments, bool withIndex)
    {
        w.WriteStartObject();
        if (withIndex) w.WriteNumber("index", index);
        if (id is not null)
        {
            w.WriteString("id", id);
            w.WriteString("type", "function");
        }
        w.WriteStartObject("function");
        if (name is not null) w.WriteString("name", name);
        w.WriteString("arguments", arguments);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public static void WriteUsage(Utf8JsonWriter w, GenerationUsage u)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", u.PromptTokens);
        w.WriteNumber("completion_tokens", u.CompletionTokens);
        w.WriteNumber("total_tokens", u.PromptTokens + u.CompletionTokens);
        w.WriteNumber("prompt_cache_hit_tokens", u.CachedPromptTokens);
        w.WriteNumber("prompt_cache_miss_tokens", u.PromptCacheMissTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", u.CachedPromptTokens);
        w.WriteEndObject();
        w.WriteStartObject("completion_tokens_details");
        w.WriteNumber("reasoning_tokens", u.ReasoningTokens);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteHeader(Utf8JsonWriter w, string id, string obj, long created, string model, string fingerprint)
    {
        w.WriteString("id", id);
        w.WriteString("object", obj);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
        w.WriteString("system_fingerprint", fingerprint);
    }

    private static void WriteBytes(Utf8JsonWriter w, byte[] bytes)
    {
        w.WriteStartArray("bytes");
        foreach (byte b in bytes) w.WriteNumberValue(b);
        w.WriteEndArray();
    }

    public static void WriteChatLogprobs(Utf8JsonWriter w, IReadOnlyList<GenerationDelta> deltas)
    {
        w.WriteStartObject("logprobs");
        w.WriteStartArray("content");
        foreach (var d in deltas)
        {
            if (d.Chosen is not { } chosen) continue;
            w.WriteStartObject();
            w.WriteString("token", chosen.Token);
            w.WriteNumber("logprob", chosen.Logprob);
            WriteBytes(w, chosen.Bytes);
            w.WriteStartArray("top_logprobs");
            foreach (var alt in d.Alternatives ?? [])
            {
                w.WriteStartObject();
                w.WriteString("token", alt.Token);
                w.WriteNumber("logprob", alt.Logprob);
                WriteBytes(w, alt.Bytes);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static void WriteChatCompletion(Utf8JsonWriter w, string id, long created, string model, string fingerprint, GenerationResult result,
        bool reasoner, IReadOnlyList<GenerationDelta>? logprobs)
    {
        w.WriteStartObject();
        WriteHeader(w, id, "chat.completion", created, model, fingerprint);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        // A reply that only calls tools has content null, as OpenAI's and DeepSeek's do.
        if (result.ToolCalls.Count > 0 && result.Content.Length == 0) w.WriteNull("content"); else w.WriteString("content", result.Content);
        if (reasoner) w.WriteString("reasoning_content", result.Reasoning);
        if (result.ToolCalls.Count > 0)
        {
            w.WriteStartArray("tool_calls");
            for (int i = 0; i < result.ToolCalls.Count; i++)
            {
                var call = result.ToolCalls[i];
                WriteToolCall(w, i, call.Id, call.Name, call.Arguments, withIndex: false);
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
        if (logprobs is null) w.WriteNull("logprobs"); else WriteChatLogprobs(w, logprobs);
        w.WriteString("finish_reason", FinishReasonText(result));
        w.WriteEndObject();
        w.WriteEndArray();
        WriteUsage(w, result.Usage);
        w.WriteEndObject();
    }

    /// <summary>
    /// One chat.completion.chunk: a delta (role on the first; a tool call's id, type and name on its first delta, argument
    /// fragments after), a finish reason, or (with no choice) the usage.
    /// </summary>
    public static void WriteChatChunk(Utf8JsonWriter w, string id, long created, string model, string fingerprint,
        bool first, OutputChannel? channel, string? text, string? finishReason, GenerationUsage? usage, bool usageOnly, GenerationDelta? logprobDelta,
        ToolCallDelta? toolCall = null)
    {
        w.WriteStartObject();
        WriteHeader(w, id, "chat.completion.chunk", created, model, fingerprint);
        w.WriteStartArray("choices");
        if (!usageOnly)
        {
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("delta");
            if (first) w.WriteString("role", "assistant");
            if (channel == OutputChannel.Reasoning)
            {
                w.WriteNull("content");
                w.WriteString("reasoning_content", text);
            }
            else if (channel == OutputChannel.Content) w.WriteString("content", text);
            else if (channel == OutputChannel.ToolCall && toolCall is not null)
            {
                w.WriteStartArray("tool_calls");
                WriteToolCall(w, toolCall.Index, toolCall.Id, toolCall.Name, toolCall.ArgumentsFragment, withIndex: true);
                w.WriteEndArray();
            }
            w.WriteEndObject();
            if (logprobDelta is { } ld) WriteChatLogprobs(w, [ld]); else w.WriteNull("logprobs");
            if (finishReason is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finishReason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (usage is not null) WriteUsage(w, usage);
        w.WriteEndObject();
    }

    public static void WriteTextCompletion(Utf8JsonWriter w, string id, long created, string model, string fingerprint, string text,
        string? finishReason, GenerationUsage? usage, IReadOnlyList<GenerationDelta>? logprobs, bool chunk)
    {
        w.WriteStartObject();
        WriteHeader(w, id, "text_completion", created, model, fingerprint);
        w.WriteStartArray("choices");
        if (!(chunk && usage is not null && finishReason is null && text.Length == 0))
        {
            w.WriteStartObject();
            w.WriteString("text", text);
            w.WriteNumber("index", 0);
            if (logprobs is null) w.WriteNull("logprobs");
            else
            {
                w.WriteStartObject("logprobs");
                w.WriteStartArray("tokens");
                foreach (var d in logprobs) if (d.Chosen is { } c) w.WriteStringValue(c.Token);
                w.WriteEndArray();
                w.WriteStartArray("token_logprobs");
                foreach (var d in logprobs) if (d.Chosen is { } c) w.WriteNumberValue(c.Logprob);
                w.WriteEndArray();
                w.WriteStartArray("top_logprobs");
                foreach (var d in logprobs)
                {
                    if (d.Chosen is null) continue;
                    w.WriteStartObject();
                    foreach (var alt in d.Alternatives ?? []) w.WriteNumber(alt.Token, alt.Logprob);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            if (finishReason is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finishReason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (usage is not null) WriteUsage(w, usage);
        w.WriteEndObject();
    }
}
