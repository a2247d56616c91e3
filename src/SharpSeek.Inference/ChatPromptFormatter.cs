using System.Text;
using SharpSeek.Inference.Tools;
using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Inference;

/// <summary>The two served behaviours: DeepSeek-V3 chat and R1 reasoning (thinks first).</summary>
public enum ChatMode
{
    Chat,
    Reasoner,
}

/// <summary>
/// A chat turn before templating; <see cref="Prefix"/> on the last assistant turn asks to continue it.
/// <see cref="Reasoning"/>: the reasoning of an assistant turn that called tools within the running tool loop, which a
/// reasoner sees again (other reasoning is dropped, as the template drops it).
/// </summary>
public sealed record PromptMessage(string Role, string? Content, IReadOnlyList<ChatToolCall>? ToolCalls = null, bool Prefix = false, string? Reasoning = null);

/// <summary>A rendered prompt: token ids and whether generation begins inside a reasoning block.</summary>
public sealed record FormattedPrompt(int[] Tokens, bool StartsInReasoning);

/// <summary>
/// Renders conversations with DeepSeek's chat templates (the model's own when it is R1 or R1-Distill, else V3 for chat
/// and R1 for the reasoner; earlier turns' reasoning is dropped by the template) and FIM prompts, and encodes them
/// with the served tokenizer.
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
        _markers = tokenizer.AddedTokens.Where(t => t.Content.Length > 0).ToArray();
        // The model's own template (tokenizer_config.json or GGUF tokenizer.chat_template) decides when it is one of
        // DeepSeek's: a reasoning model (R1, R1-Distill) renders both modes with its template, and "thinking disabled"
        // closes the think block the generation prompt opens, so the model answers at once in the format it was
        // trained on. A V3 template, none, or one we do not implement keeps V3 for chat and R1 for the reasoner.
        var own = tokenizer.ChatTemplate?.Kind;
        if (own is ChatTemplateKind.DeepSeekR1 or ChatTemplateKind.DeepSeekR1Distill && SupportsReasoning)
        {
            _chat = _reasoner = new DeepSeekChatTemplate(own.Value, bos);
            _chatClosesThinking = true;
            TemplateDescription = (own == ChatTemplateKind.DeepSeekR1 ? "DeepSeek-R1" : "DeepSeek-R1-Distill") + " (the model's own; thinking disabled closes the think block)";
        }
        else
        {
            _chat = new DeepSeekChatTemplate(ChatTemplateKind.DeepSeekV3, bos);
            _reasoner = new DeepSeekChatTemplate(ChatTemplateKind.DeepSeekR1, bos);
            TemplateDescription = (own == ChatTemplateKind.DeepSeekV3 ? "DeepSeek-V3 (the model's own)"
                : tokenizer.ChatTemplateSource is null ? "DeepSeek-V3 (the model has none)"
                : "DeepSeek-V3 (the model's template is not one of DeepSeek's V3/R1/R1-Distill; rendered as V3)")
                + (SupportsReasoning ? ", DeepSeek-R1 for reasoning" : "");
        }
    }

    private readonly AddedToken[] _markers;
    private readonly bool _chatClosesThinking;

    /// <summary>
    /// The model's own template is a reasoning model's (R1, R1-Distill): it was trained to think before answering, so
    /// chat front ends start with thinking on and say why (thinking off still works: the think block is closed at once).
    /// </summary>
    public bool ThinksByDefault => _chatClosesThinking;

    /// <summary>Which templates render prompts and where they came from, for the operator's startup line.</summary>
    public string TemplateDescription { get; }

    /// <summary>True when the tokenizer has the reasoning markers the reasoner needs.</summary>
    public bool SupportsReasoning => _tokenizer.TokenToId(DeepSeekTokens.ThinkBegin) is not null && _tokenizer.TokenToId(DeepSeekTokens.ThinkEnd) is not null;

    /// <summary>True when the tokenizer has DeepSeek's fill-in-the-middle markers.</summary>
    public bool SupportsFillInTheMiddle => _tokenizer.TokenToId(FimBegin) is not null && _tokenizer.TokenToId(FimHole) is not null && _tokenizer.TokenToId(FimEnd) is not null;

    public const string FimBegin = "<｜fim▁begin｜>";
    public const string FimHole = "<｜fim▁hole｜>";
    public const string FimEnd = "<｜fim▁end｜>";

    /// <summary>True when the tokenizer has DeepSeek's tool-call markers (requests with tools need them).</summary>
    public bool SupportsTools => ToolTokenIds.For(_tokenizer).Complete;

    /// <summary>
    /// Renders and encodes <paramref name="messages"/>; throws <see cref="ArgumentException"/> for sequences the template
    /// rejects and for text the tokenizer cannot encode, <see cref="NotSupportedException"/> for tools on a vocabulary
    /// without tool markers. With <paramref name="tools"/>, the tools section (<see cref="ToolPrompt"/>) joins the
    /// system prompt. Message text (and tool names, descriptions, schemas) is encoded as plain text: only the
    /// template's own markers become control tokens, so no message can forge one.
    /// </summary>
    public FormattedPrompt Format(IReadOnlyList<PromptMessage> messages, ChatMode mode, ToolSet? tools = null)
    {
        var (text, inReasoning) = Render(messages, mode, tools);
        return new FormattedPrompt(Encode(text.Segments), inReasoning);
    }

    /// <summary>The prompt <see cref="Format"/> encodes, as text (for tests and diagnostics).</summary>
    public string RenderText(IReadOnlyList<PromptMessage> messages, ChatMode mode, ToolSet? tools = null) => Render(messages, mode, tools).Text.ToString();

    private (PromptText Text, bool InReasoning) Render(IReadOnlyList<PromptMessage> messages, ChatMode mode, ToolSet? tools)
    {
        if (messages.Count == 0) throw new ArgumentException("messages must not be empty");
        if (tools is { Definitions.Count: > 0 } && !SupportsTools)
            throw new NotSupportedException("the served model's tokenizer has no tool-call tokens (<｜tool▁calls▁begin｜> …), so it cannot call tools");
        bool reasoner = mode == ChatMode.Reasoner && SupportsReasoning;
        var template = reasoner ? _reasoner : _chat;
        var last = messages[^1];
        bool prefix = last.Prefix && last.Role == "assistant";
        for (int i = 0; i < messages.Count - 1; i++)
            if (messages[i].Prefix) throw new ArgumentException("only the last message may have prefix: true");
        if (last.Prefix && !prefix) throw new ArgumentException("prefix: true is only allowed on a final assistant message");

        var turns = new List<ChatMessage>(messages.Count);
        foreach (var m in prefix ? messages.Take(messages.Count - 1) : messages)
            turns.Add(new ChatMessage(m.Role, m.Content, m.ToolCalls) { Reasoning = reasoner ? m.Reasoning : null });
        if (turns.Count == 0) throw new ArgumentException("a prefix completion needs at least one message before the assistant prefix");
        var section = tools is { Definitions.Count: > 0 } ? ToolPrompt.Section(tools.Definitions) : null;
        var text = template.RenderSegments(turns, addGenerationPrompt: true, section);
        bool inReasoning = reasoner;
        if (!reasoner && _chatClosesThinking) text.Append("\n" + DeepSeekTokens.ThinkEnd + "\n\n"); // an empty reasoning block
        if (prefix)
        {
            // Continue the given assistant text as the answer (reasoning, if any, is closed first).
            if (reasoner) text.Append("\n" + DeepSeekTokens.ThinkEnd + "\n\n");
            text.AppendContent(last.Content);
            inReasoning = false;
        }
        return (text, inReasoning);
    }

    // Template text is searched for added tokens (the markers); content joins the ordinary text around it unparsed, so
    // a run of ordinary text between two markers is encoded as one piece, exactly as encoding the whole string would.
    // A vocabulary without all 256 byte tokens cannot spell every text; that is bad input for this model, not a crash.
    private int[] Encode(IReadOnlyList<PromptSegment> segments)
    {
        var ids = new List<int>();
        var ordinary = new StringBuilder();
        try
        {
            foreach (var segment in segments)
            {
                if (segment.IsContent) { ordinary.Append(segment.Text); continue; }
                string t = segment.Text;
                int position = 0;
                while (FindMarker(t, position, out int start, out AddedToken? marker))
                {
                    ordinary.Append(t, position, start - position);
                    EncodeOrdinary(ordinary, ids);
                    ids.Add(marker.Id);
                    position = start + marker.Content.Length;
                }
                ordinary.Append(t, position, t.Length - position);
            }
            EncodeOrdinary(ordinary, ids);
        }
        catch (InvalidOperationException e) { throw new ArgumentException("the served model's tokenizer cannot encode this text: " + e.Message, e); }
        return ids.ToArray();
    }

    private void EncodeOrdinary(StringBuilder text, List<int> ids)
    {
        if (text.Length == 0) return;
        _tokenizer.Encode(text.ToString().AsSpan(), ids, addSpecialTokens: false, parseSpecialTokens: false);
        text.Clear();
    }

    // Leftmost, then longest, as the tokenizer's own added-token matcher decides.
    private bool FindMarker(string text, int from, out int start, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out AddedToken? marker)
    {
        start = int.MaxValue;
        marker = null;
        foreach (var token in _markers)
        {
            int i = text.IndexOf(token.Content, from, StringComparison.Ordinal);
            if (i >= 0 && (i < start || (i == start && token.Content.Length > marker!.Content.Length)))
            {
                start = i;
                marker = token;
            }
        }
        return marker is not null;
    }

    // Encoding a whole string (legacy callers, FIM) still parses markers anywhere.
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
