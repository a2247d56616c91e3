using System.Text.Json;
using SharpSeek.Inference.Tools;

namespace SharpSeek.Server.Api;

/// <summary>
/// The OpenAI wire form of function calling in a chat request: <c>tools[{type:"function", function{name, description,
/// parameters, strict}}]</c> and <c>tool_choice</c> ("none" | "auto" | "required" | {type:"function", function{name}}),
/// validated and compiled into a <see cref="ToolSet"/> (400 naming the field for anything wrong).
/// </summary>
internal static class ToolRequest
{
    /// <summary>Null when the request has no tools and no tool_choice that needs one.</summary>
    public static ToolSet? Parse(JsonElement root, bool beta)
    {
        var definitions = new List<ToolDefinition>();
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind != JsonValueKind.Null)
        {
            if (tools.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("tools must be an array.", "tools");
            int i = 0;
            foreach (var t in tools.EnumerateArray())
            {
                string at = $"tools[{i++}]";
                if (t.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"{at} must be an object.", at);
                if (!t.TryGetProperty("type", out var ty) || !ChatCompletionRequest.TextIs(ty, "function")) throw ApiException.BadRequest($"{at}.type must be 'function'.", at + ".type");
                if (!t.TryGetProperty("function", out var fn) || fn.ValueKind != JsonValueKind.Object)
                    throw ApiException.BadRequest($"{at}.function must be an object.", at + ".function");
                string name = fn.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                    ? ChatCompletionRequest.Text(n, at + ".function.name") : throw ApiException.BadRequest($"Missing required parameter: '{at}.function.name'.", at + ".function.name");
                string? description = null;
                if (fn.TryGetProperty("description", out var d) && d.ValueKind != JsonValueKind.Null)
                    description = d.ValueKind == JsonValueKind.String ? ChatCompletionRequest.Text(d, at + ".function.description") : throw ApiException.BadRequest($"'{at}.function.description' must be a string.", at + ".function.description");
                string? parameters = null;
                if (fn.TryGetProperty("parameters", out var p) && p.ValueKind != JsonValueKind.Null)
                {
                    if (p.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"'{at}.function.parameters' must be a JSON Schema object.", at + ".function.parameters");
                    parameters = p.GetRawText();
                }
                bool strict = false;
                if (fn.TryGetProperty("strict", out var st) && st.ValueKind != JsonValueKind.Null)
                {
                    strict = st.ValueKind switch
                    {
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        _ => throw ApiException.BadRequest($"'{at}.function.strict' must be a boolean.", at + ".function.strict"),
                    };
                }
                if (strict && !beta)
                    throw ApiException.BadRequest($"{at}.function.strict requires the beta base URL (POST /beta/chat/completions).", at + ".function.strict");
                definitions.Add(new ToolDefinition(name, description, parameters, strict));
            }
        }
        var choice = Choice(root, definitions.Count > 0);
        if (definitions.Count == 0)
        {
            if (choice.Kind is ToolChoiceKind.Required or ToolChoiceKind.Function)
                throw ApiException.BadRequest("tool_choice requires a tool call, but the request has no tools.", "tool_choice");
            return null;
        }
        try { return ToolSet.Create(definitions, choice); }
        catch (ToolDefinitionException e) { throw ApiException.BadRequest(e.Message, e.Param); }
    }

    private static ToolChoice Choice(JsonElement root, bool hasTools)
    {
        if (!root.TryGetProperty("tool_choice", out var c) || c.ValueKind == JsonValueKind.Null) return hasTools ? ToolChoice.Auto : ToolChoice.None;
        if (c.ValueKind == JsonValueKind.String)
        {
            return ChatCompletionRequest.Text(c, "tool_choice") switch
            {
                "none" => ToolChoice.None,
                "auto" => ToolChoice.Auto,
                "required" => ToolChoice.Required,
                var other => throw ApiException.BadRequest($"tool_choice must be 'none', 'auto', 'required' or a function object, got '{other}'.", "tool_choice"),
            };
        }
        if (c.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("tool_choice must be a string or an object.", "tool_choice");
        if (!c.TryGetProperty("type", out var type) || !ChatCompletionRequest.TextIs(type, "function"))
            throw ApiException.BadRequest("tool_choice.type must be 'function'.", "tool_choice.type");
        if (!c.TryGetProperty("function", out var fn) || fn.ValueKind != JsonValueKind.Object
            || !fn.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
            throw ApiException.BadRequest("tool_choice.function.name is required.", "tool_choice.function.name");
        return ToolChoice.Function(ChatCompletionRequest.Text(name, "tool_choice.function.name"));
    }
}
