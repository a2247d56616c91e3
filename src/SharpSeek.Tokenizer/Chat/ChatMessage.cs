namespace SharpSeek.Tokenizer.Chat;

/// <summary>One function call an assistant turn makes (OpenAI/DeepSeek API shape).</summary>
/// <param name="Name">Function name.</param>
/// <param name="Arguments">The arguments as a JSON text, inserted verbatim.</param>
/// <param name="Type">Call type; DeepSeek's API only has "function".</param>
public sealed record ChatToolCall(string Name, string Arguments, string Type = "function");

/// <summary>
/// A conversation turn as the chat templates see it. <see cref="Content"/> null means JSON null / Jinja <c>none</c>
/// (an assistant turn that only calls tools). For the R1 formats, an assistant turn's earlier reasoning is written
/// inline as <c>"…&lt;/think&gt;answer"</c>; the templates drop everything up to the last <c>&lt;/think&gt;</c>.
/// </summary>
/// <param name="Role">"system", "user", "assistant" or "tool".</param>
/// <param name="Content">The text, or null.</param>
/// <param name="ToolCalls">The assistant's tool calls; null when the message has no <c>tool_calls</c> key.</param>
public sealed record ChatMessage(string Role, string? Content, IReadOnlyList<ChatToolCall>? ToolCalls = null)
{
    /// <summary>
    /// Our extension for DeepSeek's tool-loop rule (no published template has it): the reasoning of an R1 assistant turn
    /// that calls tools, rendered inside <c>&lt;think&gt;…&lt;/think&gt;</c> before the turn's text. Null (the default)
    /// renders exactly as the reference template.
    /// </summary>
    public string? Reasoning { get; init; }

    public static ChatMessage System(string content) => new("system", content);

    public static ChatMessage User(string content) => new("user", content);

    public static ChatMessage Assistant(string content) => new("assistant", content);

    /// <summary>An assistant turn calling tools, with optional accompanying text.</summary>
    public static ChatMessage AssistantToolCalls(IReadOnlyList<ChatToolCall> toolCalls, string? content = null) =>
        new("assistant", content, toolCalls);

    /// <summary>A tool's result.</summary>
    public static ChatMessage Tool(string content) => new("tool", content);
}

/// <summary>DeepSeek's control tokens as they appear in rendered prompts.</summary>
public static class DeepSeekTokens
{
    public const string BeginOfSentence = "<｜begin▁of▁sentence｜>";
    public const string EndOfSentence = "<｜end▁of▁sentence｜>";
    public const string User = "<｜User｜>";
    public const string Assistant = "<｜Assistant｜>";
    public const string ThinkBegin = "<think>";
    public const string ThinkEnd = "</think>";
    public const string ToolCallsBegin = "<｜tool▁calls▁begin｜>";
    public const string ToolCallsEnd = "<｜tool▁calls▁end｜>";
    public const string ToolCallBegin = "<｜tool▁call▁begin｜>";
    public const string ToolCallEnd = "<｜tool▁call▁end｜>";
    public const string ToolSeparator = "<｜tool▁sep｜>";
    public const string ToolOutputsBegin = "<｜tool▁outputs▁begin｜>";
    public const string ToolOutputsEnd = "<｜tool▁outputs▁end｜>";
    public const string ToolOutputBegin = "<｜tool▁output▁begin｜>";
    public const string ToolOutputEnd = "<｜tool▁output▁end｜>";
}
