using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Inference;

/// <summary>The two served behaviours: DeepSeek-V3 chat and R1 reasoning (thinks first).</summary>
public enum ChatMode
{
    Chat,
    Reasoner,
}

/// <summary>A chat turn before templating; <see cref="Prefix"/> on the last assistant turn asks to continue it.</summary>
public sealed record PromptMessage(string Role, string? Content, IReadOnlyList<ChatToolCall>? ToolCalls = null, bool Prefix = false);

/// <summary>A rendered prompt: token ids and whether generation begins inside a reasoning block.</summary>
public sealed record FormattedPrompt(int[] Tokens, bool StartsInReasoning);

/// <summary>
/// Renders conversations with DeepSeek's chat templates (V3 for chat, R1 for the reasoner; earlier turns' reasoning is
/// dropped by the template) and FIM prompts, and encodes them with the served tokenizer.
/// </summary>
public sealed class ChatPromptFormatter
{
    private readonly ByteLevelBpeTokenizer _tokenizer;
    private readonly DeepSeekChatTemplate _chat;
    private readonly DeepSeekChatTemplate _reasoner;

    public ChatPromptFormatter(ByteLevelBpeTokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        string bos = tokenizer.BosToken ?? DeepSeekTokens.BeginOfSentence;
        _chat = new DeepSeekChatTemplate(ChatTemplateKind.DeepSeekV3, bos);
        _reasoner = new DeepSeekChatTemplate(ChatTemplateKind.DeepSeekR1, bos);
    }

    /// <summary>True when the tokenizer has the reasoning markers the reasoner needs.</summary>
    public bool SupportsReasoning => _tokenizer.TokenToId(DeepSeekTokens.ThinkBegin) is not null && _tokenizer.TokenToId(DeepSeekTokens.ThinkEnd) is not null;

    /// <summary>True when the tokenizer has DeepSeek's fill-in-the-middle markers.</summary>
    public bool SupportsFillInTheMiddle => _tokenizer.TokenToId(FimBegin) is not null && _tokenizer.TokenToId(FimHole) is not null && _tokenizer.TokenToId(FimEnd) is not null;

    public const string FimBegin = "<｜fim▁begin｜>";
    public const string FimHole = "<｜fim▁hole｜>";
    public const string FimEnd = "<｜fim▁end｜>";

    /// <summary>
    /// Renders and encodes <paramref name="messages"/>; throws <see cref="ArgumentException"/> for sequences the template
    /// rejects and for text the tokenizer cannot encode.
    /// </summary>
    public FormattedPrompt Format(IReadOnlyList<PromptMessage> messages, ChatMode mode)
    {
        if (messages.Count == 0) throw new ArgumentException("messages must not be empty");
        bool reasoner = mode == ChatMode.Reasoner && SupportsReasoning;
        var template = reasoner ? _reasoner : _chat;
        var last = messages[^1];
        bool prefix = last.Prefix && last.Role == "assistant";
        for (int i = 0; i < messages.Count - 1; i++)
            if (messages[i].Prefix) throw new ArgumentException("only the last message may have prefix: true");
        if (last.Prefix && !prefix) throw new ArgumentException("prefix: true is only allowed on a final assistant message");

        var turns = new List<ChatMessage>(messages.Count);
        foreach (var m in prefix ? messages.Take(messages.Count - 1) : messages)
            turns.Add(new ChatMessage(m.Role, m.Content, m.ToolCalls));
        if (turns.Count == 0) throw new ArgumentException("a prefix completion needs at least one message before the assistant prefix");
        string text = template.Render(turns, addGenerationPrompt: true);
        bool inReasoning = reasoner;
        if (prefix)
        {
            // Continue the given assistant text as the answer (reasoning, if any, is closed first).
            if (reasoner) text += "\n" + DeepSeekTokens.ThinkEnd + "\n\n";
            text += last.Content ?? "";
            inReasoning = false;
        }
        return new FormattedPrompt(Encode(text), inReasoning);
    }

    // A vocabulary without all 256 byte tokens cannot spell every text; that is bad input for this model, not a crash.
    private int[] Encode(string text)
    {
        try { return _tokenizer.Encode(text, addSpecialTokens: false, parseSpecialTokens: true); }
        catch (InvalidOperationException e) { throw new ArgumentException("the served model's tokenizer cannot encode this text: " + e.Message, e); }
    }

    /// <summary>DeepSeek FIM: BOS, begin, prefix, hole, suffix, end; the model writes the middle.</summary>
    public int[] FormatFillInTheMiddle(string prefix, string? suffix)
    {
        if (!SupportsFillInTheMiddle) throw new NotSupportedException("the served tokenizer has no fill-in-the-middle markers");
        string bos = _tokenizer.BosToken ?? "";
        string text = suffix is null ? bos + prefix : bos + FimBegin + prefix + FimHole + suffix + FimEnd;
        return Encode(text);
    }

    /// <summary>Tokens of plain text (no special markers parsed): counts and tests.</summary>
    public int[] EncodeText(string text) => _tokenizer.Encode(text, addSpecialTokens: false, parseSpecialTokens: false);
}
