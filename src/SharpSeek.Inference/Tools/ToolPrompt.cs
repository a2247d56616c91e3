using System.Text.Json;
using SharpSeek.Tokenizer.Chat;
using static SharpSeek.Tokenizer.Chat.DeepSeekTokens;

namespace SharpSeek.Inference.Tools;

/// <summary>
/// The "## Tools" section that tells the model which functions exist and how to call them, appended to the system
/// prompt (DeepSeek-V3's template has no place for tools; see docs/function-calling.md for the layout and why).
/// The call format it shows is exactly what <see cref="ToolCallRecognizer"/> accepts. Names, descriptions and schemas
/// are content segments (plain text); the format's markers are template text (control tokens).
/// </summary>
public static class ToolPrompt
{
    public static IReadOnlyList<PromptSegment> Section(IReadOnlyList<ToolDefinition> tools)
    {
        var p = new PromptText();
        p.Append("## Tools\n\nYou can call the functions listed below. To call functions, reply with exactly this and nothing after it:\n")
            .Append(ToolCallsBegin).Append(ToolCallBegin).Append("function").Append(ToolSeparator).Append("FUNCTION_NAME\n```json\nARGUMENTS\n```")
            .Append(ToolCallEnd).Append(ToolCallsEnd)
            .Append("\nwhere FUNCTION_NAME is one of the names below and ARGUMENTS is a JSON object that follows its parameters schema. "
                + "For several calls at once, write one " + ToolCallBegin + "…" + ToolCallEnd + " block per call, separated by newlines, inside one "
                + ToolCallsBegin + "…" + ToolCallsEnd + ". The results come back in the next message.");
        foreach (var t in tools)
        {
            p.Append("\n\n### ").AppendContent(t.Name);
            if (!string.IsNullOrEmpty(t.Description)) p.Append("\nDescription: ").AppendContent(t.Description);
            p.Append("\nParameters: ").AppendContent(CompactJson(t.ParametersJson));
        }
        return p.Segments;
    }

    /// <summary>The schema as compact JSON (no parameters: an empty object schema).</summary>
    private static string CompactJson(string? json)
    {
        if (json is null) return "{\"type\":\"object\",\"properties\":{}}";
        using var doc = JsonDocument.Parse(json);
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            doc.RootElement.WriteTo(w);
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }
}
