using System.Buffers;
using Microsoft.AspNetCore.Http;
using SharpSeek.Inference;
using SharpSeek.Server.Accounts;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Server.Api;

/// <summary>
/// What every wire format does between parsing and admission, written once: read the body (bounded), render the
/// prompt (tools included), check it against the context window, and build the engine's request and its price. The
/// OpenAI/DeepSeek exchange and the Anthropic one both call it, so a rule here holds for both.
/// </summary>
internal static class ChatGeneration
{
    public const int MaxBodyBytes = 16 << 20;

    /// <summary>The request body, refused with 413 past <see cref="MaxBodyBytes"/> without reading further.</summary>
    public static async Task<byte[]> ReadBodyAsync(HttpContext http)
    {
        using var ms = new MemoryStream();
        var buffer = ArrayPool<byte>.Shared.Rent(16384);
        try
        {
            int n;
            while ((n = await http.Request.Body.ReadAsync(buffer, http.RequestAborted)) > 0)
            {
                ms.Write(buffer, 0, n);
                if (ms.Length > MaxBodyBytes) throw new ApiException(413, "Request body too large.", "invalid_request_error", "body_too_large");
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        return ms.ToArray();
    }

    /// <summary>
    /// The engine request for a parsed chat (or fill-in-the-middle) request, and its price. Throws <see cref="ApiException"/>
    /// (400) for a message sequence the template cannot render, thinking on a model without think markers, or a
    /// prompt that does not fit the context window.
    /// </summary>
    public static (GenerationRequest Generation, ModelPrice Price) Prepare(ServerState state, ChatCompletionRequest request, bool fim)
    {
        var engine = state.Engine;
        if (request.ThinkingRequested && !engine.Prompts.SupportsReasoning)
            throw ApiException.BadRequest("The served model has no reasoning markers (<think>, </think>), so thinking cannot be enabled.", "thinking");
        int[] promptTokens;
        bool startsInReasoning = false;
        try
        {
            if (fim) promptTokens = engine.Prompts.FormatFillInTheMiddle(request.Prompt!, request.Suffix);
            else
            {
                var formatted = engine.Prompts.Format(request.Messages, request.Mode, request.Tools);
                promptTokens = formatted.Tokens;
                startsInReasoning = formatted.StartsInReasoning;
            }
        }
        catch (ArgumentException e) { throw ApiException.BadRequest("Invalid message sequence: " + e.Message, "messages"); }
        catch (NotSupportedException e) { throw ApiException.BadRequest(e.Message); }

        int context = engine.Options.MaxContext;
        if (promptTokens.Length >= context)
            throw ApiException.BadRequest($"This model's maximum context length is {context} tokens; the messages hold {promptTokens.Length} tokens.", "messages", "context_length_exceeded");
        if (request.MaxTokens is int asked && asked > context - 1)
            throw ApiException.InvalidParameter($"max_tokens must be at most {context - 1}.", "max_tokens");
        int maxTokens = Math.Min(request.MaxTokens ?? state.Options.DefaultMaxTokens, context - promptTokens.Length);

        var generation = new GenerationRequest
        {
            PromptTokens = promptTokens,
            StartsInReasoning = startsInReasoning,
            Sampling = request.Sampling,
            MaxTokens = Math.Max(1, maxTokens),
            StopStrings = request.Stop,
            JsonContent = request.JsonObject,
            TopLogprobs = request.Logprobs ? request.TopLogprobs : null,
            IgnoreEndOfSequence = request.IgnoreEos,
            MaxReasoningTokens = request.ReasoningBudget,
            Tools = request.Tools,
        };
        var price = request.Mode == ChatMode.Reasoner ? state.Options.ReasonerPrice : state.Options.ChatPrice;
        return (generation, price);
    }

    /// <summary>The 200 headers of an answer (once): JSON, or an event stream that proxies must not buffer.</summary>
    public static void StartResponse(HttpResponse response, bool streaming)
    {
        if (response.HasStarted) return;
        response.StatusCode = 200;
        response.ContentType = streaming ? "text/event-stream; charset=utf-8" : "application/json";
        if (streaming)
        {
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
        }
    }
}
