using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using SharpSeek.Inference.Tools;
using SharpSeek.Tokenizer.Chat;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace SharpSeek.Inference;

/// <summary>
/// <see cref="IChatClient"/> over an in-process <see cref="InferenceEngine"/>: the same prompt formatting and
/// generation the HTTP server uses, without HTTP. <c>ModelId</c> "deepseek-reasoner" (or any id containing
/// "reasoner") thinks first and returns its reasoning as <see cref="TextReasoningContent"/>. Function calling works
/// as over HTTP: <see cref="ChatOptions.Tools"/> (function declarations) and <see cref="ChatOptions.ToolMode"/> become
/// the engine's tool set (a required or named call decodes under the schema's grammar), the model's calls come back
/// as <see cref="FunctionCallContent"/> with <see cref="ChatFinishReason.ToolCalls"/>, and calls and results in the
/// conversation are rendered in DeepSeek's format — so <c>UseFunctionInvocation()</c> runs its loop on it unchanged.
/// </summary>
public sealed class InferenceChatClient : IChatClient
{
    private readonly InferenceEngine _engine;
    private readonly string _defaultModel;

    public InferenceChatClient(InferenceEngine engine, string defaultModel = "deepseek-chat")
    {
        _engine = engine;
        _defaultModel = defaultModel;
        Metadata = new ChatClientMetadata("sharpseek", null, defaultModel);
    }

    public ChatClientMetadata Metadata { get; }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (stream, model) = Submit(messages, options, cancellationToken);
        var result = await stream.CollectAsync(cancellationToken).ConfigureAwait(false);
        var message = new AiChatMessage(ChatRole.Assistant, []);
        if (result.Reasoning.Length > 0) message.Contents.Add(new TextReasoningContent(result.Reasoning));
        if (result.Content.Length > 0 || result.ToolCalls.Count == 0) message.Contents.Add(new TextContent(result.Content));
        foreach (var call in result.ToolCalls) message.Contents.Add(Call(call));
        return new ChatResponse(message)
        {
            ModelId = model,
            ResponseId = "chatcmpl-" + stream.Id,
            FinishReason = Map(result),
            Usage = Usage(result.Usage),
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (stream, model) = Submit(messages, options, cancellationToken);
        string id = "chatcmpl-" + stream.Id;
        await foreach (var delta in stream.Deltas.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            // Tool calls arrive whole in the last update: function invokers act on complete calls only.
            if (delta.Text.Length == 0 || delta.Channel == OutputChannel.ToolCall) continue;
            AIContent content = delta.Channel == OutputChannel.Reasoning ? new TextReasoningContent(delta.Text) : new TextContent(delta.Text);
            yield return new ChatResponseUpdate(ChatRole.Assistant, [content]) { ResponseId = id, ModelId = model };
        }
        var result = await stream.Completion.ConfigureAwait(false);
        var last = new List<AIContent>(result.ToolCalls.Select(Call)) { new UsageContent(Usage(result.Usage)) };
        yield return new ChatResponseUpdate(ChatRole.Assistant, last)
        {
            ResponseId = id,
            ModelId = model,
            FinishReason = Map(result),
        };
    }

    private (GenerationStream, string) Submit(IEnumerable<AiChatMessage> messages, ChatOptions? options, CancellationToken ct)
    {
        string model = options?.ModelId ?? _defaultModel;
        var mode = model.Contains("reasoner", StringComparison.OrdinalIgnoreCase) ? ChatMode.Reasoner : ChatMode.Chat;
        var turns = Turns(messages.ToList());
        var tools = ToolsOf(options);
        var prompt = _engine.Prompts.Format(turns, mode, tools);
        var sampling = mode == ChatMode.Reasoner ? SamplingSettings.Default : new SamplingSettings
        {
            Temperature = options?.Temperature ?? 1f,
            TopP = options?.TopP ?? 1f,
            TopK = options?.TopK ?? 0,
            Seed = options?.Seed is long s ? (ulong)s : null,
            FrequencyPenalty = options?.FrequencyPenalty ?? 0,
            PresencePenalty = options?.PresencePenalty ?? 0,
        };
        var request = new GenerationRequest
        {
            PromptTokens = prompt.Tokens,
            StartsInReasoning = prompt.StartsInReasoning,
            Sampling = sampling,
            // What the context window leaves bounds the reply, whatever was asked.
            MaxTokens = Math.Max(1, Math.Min(options?.MaxOutputTokens ?? 4096, _engine.Options.MaxContext - prompt.Tokens.Length - 1)),
            StopStrings = options?.StopSequences?.ToArray() ?? [],
            JsonContent = options?.ResponseFormat is ChatResponseFormatJson,
            Tools = tools,
        };
        if (!_engine.TrySubmit(request, ct, out var stream))
            throw new InvalidOperationException("the inference engine is at capacity (server busy)");
        return (stream, model);
    }

    private static ChatFinishReason Map(GenerationResult result) =>
        result.EndedWithToolCalls ? ChatFinishReason.ToolCalls
        : result.FinishReason == FinishReason.Length ? ChatFinishReason.Length
        : ChatFinishReason.Stop;

    /// <summary>
    /// The conversation as prompt turns: an assistant message's <see cref="FunctionCallContent"/> are its tool calls
    /// (and, inside the running tool loop, its <see cref="TextReasoningContent"/> the reasoning a reasoner sees again);
    /// each <see cref="FunctionResultContent"/> is a <c>tool</c> turn.
    /// </summary>
    private static List<PromptMessage> Turns(List<AiChatMessage> messages)
    {
        int lastUser = messages.FindLastIndex(m => m.Role == ChatRole.User);
        var turns = new List<PromptMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            var calls = m.Contents.OfType<FunctionCallContent>()
                .Select(c => new ChatToolCall(c.Name, JsonSerializer.Serialize(c.Arguments ?? new Dictionary<string, object?>()))).ToList();
            var results = m.Contents.OfType<FunctionResultContent>().ToList();
            if (results.Count > 0)
            {
                foreach (var r in results) turns.Add(new PromptMessage("tool", ResultText(r.Result)));
                continue;
            }
            string text = m.Text;
            if (calls.Count == 0)
            {
                turns.Add(new PromptMessage(m.Role.Value, text));
                continue;
            }
            string reasoning = string.Concat(m.Contents.OfType<TextReasoningContent>().Select(r => r.Text));
            turns.Add(new PromptMessage(m.Role.Value, text.Length > 0 ? text : null, calls,
                Reasoning: i > lastUser && reasoning.Length > 0 ? reasoning : null));
        }
        return turns;
    }

    private static string ResultText(object? result) => result switch
    {
        null => "",
        string s => s,
        JsonElement e when e.ValueKind == JsonValueKind.String => e.GetString()!,
        _ => JsonSerializer.Serialize(result),
    };

    /// <summary>The engine's tool set for the options' function declarations and tool mode; null without tools.</summary>
    private static ToolSet? ToolsOf(ChatOptions? options)
    {
        var functions = options?.Tools?.OfType<AIFunctionDeclaration>().ToList();
        if (functions is null || functions.Count == 0) return null;
        var choice = options!.ToolMode switch
        {
            NoneChatToolMode => ToolChoice.None,
            RequiredChatToolMode { RequiredFunctionName: { } name } => ToolChoice.Function(name),
            RequiredChatToolMode => ToolChoice.Required,
            _ => ToolChoice.Auto,
        };
        return ToolSet.Create(functions.Select(f => new ToolDefinition(f.Name, f.Description, f.JsonSchema.GetRawText())).ToList(), choice);
    }

    private static FunctionCallContent Call(GeneratedToolCall call)
    {
        try
        {
            var arguments = JsonSerializer.Deserialize<Dictionary<string, object?>>(call.Arguments);
            return new FunctionCallContent(call.Id, call.Name, arguments);
        }
        catch (JsonException e)
        {
            // A call cut short by the token limit: the invoker reports the exception instead of calling the function.
            return new FunctionCallContent(call.Id, call.Name) { Exception = e };
        }
    }

    private static UsageDetails Usage(GenerationUsage u) => new()
    {
        InputTokenCount = u.PromptTokens,
        OutputTokenCount = u.CompletionTokens,
        TotalTokenCount = u.PromptTokens + u.CompletionTokens,
        CachedInputTokenCount = u.CachedPromptTokens,
        ReasoningTokenCount = u.ReasoningTokens,
    };

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? Metadata
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType == typeof(InferenceEngine) ? _engine
        : null;

    public void Dispose() { }
}
