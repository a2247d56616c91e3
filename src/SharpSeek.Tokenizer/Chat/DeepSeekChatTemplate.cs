using System.Text;
using static SharpSeek.Tokenizer.Chat.DeepSeekTokens;

namespace SharpSeek.Tokenizer.Chat;

/// <summary>Which published DeepSeek chat template to reproduce.</summary>
public enum ChatTemplateKind
{
    /// <summary>DeepSeek-V3 (the template in its tokenizer_config.json): no reasoning block.</summary>
    DeepSeekV3,

    /// <summary>DeepSeek-R1: the generation prompt opens <c>&lt;think&gt;\n</c>; earlier reasoning is dropped.</summary>
    DeepSeekR1,

    /// <summary>DeepSeek-R1-Distill-Qwen / -Llama: as R1, but only the last system message is kept and tool turns follow V3.</summary>
    DeepSeekR1Distill,
}

/// <summary>
/// DeepSeek's chat templates, implemented as code rather than by interpreting their Jinja: each Render is the
/// template's logic statement by statement, so the output is byte-identical to the reference renderer for every
/// conversation the template accepts — including the published templates' quirks, which the models were trained
/// with and which we therefore keep:
/// <list type="bullet">
/// <item>the "first tool call" flag is never reset, so only the conversation's very first tool call gets the
/// <c>&lt;｜Assistant｜&gt;&lt;｜tool▁calls▁begin｜&gt;</c> opening;</item>
/// <item>in V3 and R1-Distill, <c>&lt;｜tool▁calls▁end｜&gt;&lt;｜end▁of▁sentence｜&gt;</c> follows each tool call after
/// the first, not the call list, and an assistant turn with text ignores its tool calls;</item>
/// <item>likewise "first tool output" is never reset.</item>
/// </list>
/// Messages the reference templates cannot render (unknown roles, missing content) are rejected with
/// <see cref="ArgumentException"/> instead of being silently skipped or failing inside the template engine.
/// </summary>
public sealed class DeepSeekChatTemplate
{
    public DeepSeekChatTemplate(ChatTemplateKind kind, string bosToken = BeginOfSentence)
    {
        if (!Enum.IsDefined(kind))
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown chat template kind");
        Kind = kind;
        BosToken = bosToken ?? throw new ArgumentNullException(nameof(bosToken));
    }

    public ChatTemplateKind Kind { get; }

    /// <summary>The text the template's <c>{{bos_token}}</c> expands to.</summary>
    public string BosToken { get; }

    /// <summary>
    /// Recognises which DeepSeek template a Jinja source is, from the statements that distinguish them; null when it
    /// is none of the three (e.g. V3-0324 / V3.1 templates, or another model family).
    /// </summary>
    public static ChatTemplateKind? Detect(string jinjaSource)
    {
        ArgumentNullException.ThrowIfNull(jinjaSource);
        if (!jinjaSource.Contains(User, StringComparison.Ordinal) || !jinjaSource.Contains(Assistant, StringComparison.Ordinal))
            return null;
        bool reasoning = jinjaSource.Contains(Assistant + ThinkBegin, StringComparison.Ordinal);
        bool concatenatesSystem = jinjaSource.Contains("is_first_sp", StringComparison.Ordinal);
        bool toolCallsWhenContentIsNone = jinjaSource.Contains("message['content'] is none", StringComparison.Ordinal);
        bool toolCallsKeyTest = jinjaSource.Contains("'tool_calls' in message", StringComparison.Ordinal);
        return (reasoning, concatenatesSystem, toolCallsWhenContentIsNone, toolCallsKeyTest) switch
        {
            (false, true, true, false) => ChatTemplateKind.DeepSeekV3,
            (true, true, _, true) => ChatTemplateKind.DeepSeekR1,
            (true, false, true, false) => ChatTemplateKind.DeepSeekR1Distill,
            _ => null,
        };
    }

    /// <summary>Renders the conversation; with <paramref name="addGenerationPrompt"/> it ends where the assistant's reply starts.</summary>
    /// <exception cref="ArgumentException">A message has an unknown role or lacks the content its role needs.</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        RenderSegments(messages, addGenerationPrompt).ToString();

    /// <summary>
    /// Renders as <see cref="Render"/> does, keeping apart the template's text and the messages' text (so the caller
    /// can encode message text without parsing control tokens in it). <paramref name="systemSuffix"/> is appended to
    /// the system prompt as if the last system message ended with "\n\n" + it (or, without a system message, as if
    /// one held it alone): how a tools section joins the conversation.
    /// </summary>
    public PromptText RenderSegments(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<PromptSegment>? systemSuffix = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        Validate(messages);
        var output = new PromptText().Append(BosToken);
        string system = SystemPrompt(messages);
        output.AppendContent(system);
        if (systemSuffix is { Count: > 0 })
        {
            if (messages.Any(m => m.Role == "system")) output.AppendContent("\n\n");
            output.AppendSegments(systemSuffix);
        }

        bool isFirst = false, isTool = false, isOutputFirst = true;
        foreach (ChatMessage message in messages)
        {
            switch (message.Role)
            {
                case "user":
                    isTool = false;
                    output.Append(User).AppendContent(message.Content);
                    break;
                case "assistant" when Kind == ChatTemplateKind.DeepSeekR1:
                    if (message.ToolCalls is not null)
                    {
                        isTool = false;
                        foreach (ChatToolCall call in message.ToolCalls)
                        {
                            if (!isFirst)
                            {
                                output.Append(Assistant);
                                if (message.Reasoning is not null)
                                    output.Append(ThinkBegin + "\n").AppendContent(message.Reasoning).Append("\n" + ThinkEnd + "\n\n");
                                if (message.Content is not null)
                                    output.AppendContent(message.Content);
                                output.Append(ToolCallsBegin);
                                AppendCall(output, call);
                                isFirst = true;
                            }
                            else
                            {
                                output.Append('\n');
                                AppendCall(output, call);
                            }
                        }
                        output.Append(ToolCallsEnd).Append(EndOfSentence);
                    }
                    else
                    {
                        AppendAssistantText(output, message.Content!, ref isTool);
                    }
                    break;
                case "assistant":
                    // V3 and R1-Distill choose by content alone: a turn with text renders the text, never its calls.
                    if (message.Content is null)
                    {
                        isTool = false;
                        foreach (ChatToolCall call in message.ToolCalls!)
                        {
                            if (!isFirst)
                            {
                                output.Append(Assistant).Append(ToolCallsBegin);
                                AppendCall(output, call);
                                isFirst = true;
                            }
                            else
                            {
                                output.Append('\n');
                                AppendCall(output, call);
                                output.Append(ToolCallsEnd).Append(EndOfSentence);
                            }
                        }
                    }
                    else
                    {
                        AppendAssistantText(output, message.Content, ref isTool);
                    }
                    break;
                case "tool":
                    isTool = true;
                    if (isOutputFirst)
                    {
                        output.Append(ToolOutputsBegin).Append(ToolOutputBegin).AppendContent(message.Content).Append(ToolOutputEnd);
                        isOutputFirst = false;
                    }
                    else
                    {
                        // R1's template drops the newline V3 puts between tool outputs.
                        if (Kind != ChatTemplateKind.DeepSeekR1)
                            output.Append('\n');
                        output.Append(ToolOutputBegin).AppendContent(message.Content).Append(ToolOutputEnd);
                    }
                    break;
            }
        }
        if (isTool)
            output.Append(ToolOutputsEnd);
        if (addGenerationPrompt && !isTool)
        {
            output.Append(Assistant);
            if (Kind != ChatTemplateKind.DeepSeekV3)
                output.Append(ThinkBegin).Append('\n');
        }
        return output;
    }

    private string SystemPrompt(IReadOnlyList<ChatMessage> messages)
    {
        if (Kind == ChatTemplateKind.DeepSeekR1Distill)
        {
            // The distill template keeps only the last system message.
            string prompt = "";
            foreach (ChatMessage message in messages)
            {
                if (message.Role == "system")
                    prompt = message.Content!;
            }
            return prompt;
        }
        var joined = new StringBuilder();
        bool first = true;
        foreach (ChatMessage message in messages)
        {
            if (message.Role != "system")
                continue;
            if (!first)
                joined.Append("\n\n");
            joined.Append(message.Content);
            first = false;
        }
        return joined.ToString();
    }

    private void AppendAssistantText(PromptText output, string content, ref bool isTool)
    {
        if (isTool)
        {
            // The turn that answers after tool outputs closes them; its text is kept as is (no reasoning strip).
            output.Append(ToolOutputsEnd).AppendContent(content).Append(EndOfSentence);
            isTool = false;
            return;
        }
        if (Kind != ChatTemplateKind.DeepSeekV3)
        {
            // Jinja: content.split('</think>')[-1] — keep what follows the last </think>.
            int end = content.LastIndexOf(ThinkEnd, StringComparison.Ordinal);
            if (end >= 0)
                content = content[(end + ThinkEnd.Length)..];
        }
        output.Append(Assistant).AppendContent(content).Append(EndOfSentence);
    }

    private static void AppendCall(PromptText output, ChatToolCall call) =>
        output.Append(ToolCallBegin).AppendContent(call.Type).Append(ToolSeparator).AppendContent(call.Name)
            .Append("\n```json\n").AppendContent(call.Arguments).Append("\n```").Append(ToolCallEnd);

    private static void Validate(IReadOnlyList<ChatMessage> messages)
    {
        for (int i = 0; i < messages.Count; i++)
        {
            ChatMessage message = messages[i] ?? throw new ArgumentException($"message {i} is null", nameof(messages));
            switch (message.Role)
            {
                case "system" or "user" or "tool":
                    if (message.Content is null)
                        throw new ArgumentException($"message {i} ({message.Role}) has no content", nameof(messages));
                    if (message.ToolCalls is not null)
                        throw new ArgumentException($"message {i} ({message.Role}) has tool calls; only assistant turns can", nameof(messages));
                    break;
                case "assistant":
                    if (message.Content is null && message.ToolCalls is null)
                        throw new ArgumentException($"message {i} (assistant) has neither content nor tool calls", nameof(messages));
                    if (message.ToolCalls is not null)
                    {
                        foreach (ChatToolCall call in message.ToolCalls)
                        {
                            if (call is null || call.Name is null || call.Arguments is null || call.Type is null)
                                throw new ArgumentException($"message {i} has a tool call without a type, name or arguments", nameof(messages));
                        }
                    }
                    break;
                default:
                    throw new ArgumentException(
                        $"message {i} has role '{message.Role}'; DeepSeek templates know system, user, assistant and tool", nameof(messages));
            }
        }
    }
}
