using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace SharpSeek.Inference;

/// <summary>
/// <see cref="IChatClient"/> over an in-process <see cref="InferenceEngine"/>: the same prompt formatting and
/// generation the HTTP server uses, without HTTP. <c>ModelId</c> "deepseek-reasoner" (or any id containing
/// "reasoner") thinks first and returns its reasoning as <see cref="TextReasoningContent"/>.
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
        message.Contents.Add(new TextContent(result.Content));
        return new ChatResponse(message)
        {
            ModelId = model,
            ResponseId = "chatcmpl-" + stream.Id,
            FinishReason = Map(result.FinishReason),
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
            if (delta.Text.Length == 0) continue;
            AIContent content = delta.Channel == OutputChannel.Reasoning ? new TextReasoningContent(delta.Text) : new TextContent(delta.Text);
            yield return new ChatResponseUpdate(ChatRole.Assistant, [content]) { ResponseId = id, ModelId = model };
        }
        var result = await stream.Completion.ConfigureAwait(false);
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(result.Usage))])
        {
            ResponseId = id,
            ModelId = model,
            FinishReason = Map(result.FinishReason),
        };
    }

    private (GenerationStream, string) Submit(IEnumerable<AiChatMessage> messages, ChatOptions? options, CancellationToken ct)
    {
        string model = options?.ModelId ?? _defaultModel;
        var mode = model.Contains("reasoner", StringComparison.OrdinalIgnoreCase) ? ChatMode.Reasoner : ChatMode.Chat;
        var turns = messages.Select(m => new PromptMessage(m.Role.Value, m.Text)).ToList();
        var prompt = _engine.Prompts.Format(turns, mode);
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
            MaxTokens = options?.MaxOutputTokens ?? Math.Max(1, Math.Min(4096, _engine.Options.MaxContext - prompt.Tokens.Length - 1)),
            StopStrings = options?.StopSequences?.ToArray() ?? [],
            JsonContent = options?.ResponseFormat is ChatResponseFormatJson,
        };
        if (!_engine.TrySubmit(request, ct, out var stream))
            throw new InvalidOperationException("the inference engine is at capacity (server busy)");
        return (stream, model);
    }

    private static ChatFinishReason Map(FinishReason reason) => reason switch
    {
        FinishReason.Length => ChatFinishReason.Length,
        _ => ChatFinishReason.Stop,
    };

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
