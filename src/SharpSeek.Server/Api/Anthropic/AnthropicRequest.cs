using System.Text;
using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Inference.Tools;
using static SharpSeek.Server.Api.ChatCompletionRequest;

namespace SharpSeek.Server.Api.Anthropic;

/// <summary>
/// A POST /anthropic/v1/messages body (Anthropic's Messages format) translated into the same
/// <see cref="ChatCompletionRequest"/> the OpenAI-format endpoint runs, so both formats share one engine, ledger and
/// cache. The translation (docs/api.md, "Anthropic format"):
/// <list type="bullet">
/// <item><c>system</c> (a string or text blocks) becomes the system message;</item>
/// <item>a user turn's <c>tool_result</c> blocks become <c>tool</c> messages, in order, before the turn's text;</item>
/// <item>an assistant turn's <c>tool_use</c> blocks become its tool calls; its <c>thinking</c> blocks are kept only
/// where a reasoning model needs them (the tool loop of the current user turn) and dropped elsewhere, as the
/// template drops earlier reasoning;</item>
/// <item>a final assistant turn is a prefill: the reply continues it;</item>
/// <item><c>thinking.budget_tokens</c> is the reasoning budget; a model name we do not serve maps to deepseek-chat.</item>
/// </list>
/// </summary>
internal sealed record AnthropicRequest
{
    /// <summary>The model name as the client sent it (echoed back in the response).</summary>
    public required string Model { get; init; }
    public required ChatCompletionRequest Chat { get; init; }
    public IReadOnlyList<AnthropicTool> Tools { get; init; } = [];
    /// <summary><c>auto</c>, <c>any</c>, <c>tool</c> or <c>none</c>; null when absent.</summary>
    public string? ToolChoice { get; init; }
    public string? ToolChoiceName { get; init; }

    /// <summary>Anthropic's own bound: a thinking budget below this is refused.</summary>
    public const int MinThinkingBudget = 1024;

    /// <summary>Parses and translates; throws <see cref="ApiException"/> (400) naming the offending field.</summary>
    public static AnthropicRequest Parse(ReadOnlySpan<byte> body, string? servedModelName)
    {
        using (var doc = ParseBody(body))
        {
            var root = doc.RootElement;
            string model = RequiredString(root, "model");
            ChatMode mode = model == ReasonerModel ? ChatMode.Reasoner : ChatMode.Chat;
            string chatModel = model is ChatModel or ReasonerModel || model == servedModelName ? model : ChatModel;

            long maxTokens = Integer(root, "max_tokens", 1, int.MaxValue) ?? throw ApiException.BadRequest("Missing required parameter: 'max_tokens'.", "max_tokens");
            int? budget = null;
            bool thinkingRequested = false;
            if (root.TryGetProperty("thinking", out var thinking) && thinking.ValueKind != JsonValueKind.Null)
            {
                if (thinking.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("thinking must be an object.", "thinking");
                string type = RequiredString(thinking, "type", "thinking.type");
                if (type == "enabled")
                {
                    long b = Integer(thinking, "budget_tokens", MinThinkingBudget, int.MaxValue, "thinking.budget_tokens")
                        ?? throw ApiException.BadRequest("Missing required parameter: 'thinking.budget_tokens'.", "thinking.budget_tokens");
                    if (b >= maxTokens) throw ApiException.BadRequest("thinking.budget_tokens must be less than max_tokens.", "thinking.budget_tokens");
                    budget = (int)b;
                    mode = ChatMode.Reasoner;
                    thinkingRequested = true;
                }
                else if (type == "disabled") mode = ChatMode.Chat;
                else throw ApiException.BadRequest($"thinking.type must be 'enabled' or 'disabled', got '{type}'.", "thinking.type");
            }

            var sampling = new SamplingSettings
            {
                // Anthropic's temperature range is [0, 1].
                Temperature = (float)(Number(root, "temperature", 0, 1) ?? 1),
                TopP = (float)(Number(root, "top_p", 0, 1, minExclusive: true) ?? 1),
                TopK = (int)(Integer(root, "top_k", 0, 1_000_000) ?? 0),
            };
            if (mode == ChatMode.Reasoner) sampling = SamplingSettings.Default;

            var messages = new List<PromptMessage>();
            string? system = SystemText(root);
            if (system is not null) messages.Add(new PromptMessage("system", system));
            AddMessages(root, messages, mode == ChatMode.Reasoner);

            var (tools, choice, choiceName) = ParseTools(root);
            return new AnthropicRequest
            {
                Model = model,
                Chat = new ChatCompletionRequest
                {
                    Model = chatModel, Mode = mode, Messages = messages, Stream = Bool(root, "stream") ?? false,
                    MaxTokens = (int)maxTokens, Sampling = sampling, Stop = StopSequences(root),
                    ThinkingRequested = thinkingRequested, ReasoningBudget = budget, Tools = CompileTools(tools, choice, choiceName),
                },
                Tools = tools, ToolChoice = choice, ToolChoiceName = choiceName,
            };
        }
    }

    private static string? SystemText(JsonElement root)
    {
        if (!root.TryGetProperty("system", out var s) || s.ValueKind == JsonValueKind.Null) return null;
        if (s.ValueKind == JsonValueKind.String) return Text(s, "system");
        if (s.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("system must be a string or an array of text blocks.", "system");
        var sb = new StringBuilder();
        int i = 0;
        foreach (var block in s.EnumerateArray())
        {
            string path = $"system[{i++}]";
            if (block.ValueKind != JsonValueKind.Object || OptionalString(block, "type", path + ".type") != "text")
                throw ApiException.BadRequest($"{path} must be a text block.", path);
            if (sb.Length > 0) sb.Append('\n');
            sb.Append(RequiredString(block, "text", path + ".text"));
        }
        return sb.ToString();
    }

    private static void AddMessages(JsonElement root, List<PromptMessage> output, bool reasoner)
    {
        if (!root.TryGetProperty("messages", out var messages)) throw ApiException.BadRequest("Missing required parameter: 'messages'.", "messages");
        if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0) throw ApiException.BadRequest("messages must be a non-empty array.", "messages");
        int count = messages.GetArrayLength();
        // Reasoning is fed back only inside the current tool loop: assistant turns after the last user turn that
        // carries text (a turn of tool results continues the loop).
        int loopStart = 0;
        int index = 0;
        foreach (var m in messages.EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.Object && m.TryGetProperty("role", out var r) && TextIs(r, "user") && !IsOnlyToolResults(m))
                loopStart = index;
            index++;
        }

        index = 0;
        foreach (var m in messages.EnumerateArray())
        {
            string path = $"messages[{index}]";
            if (m.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"{path} must be an object.", path);
            string role = RequiredString(m, "role", path + ".role");
            bool last = index == count - 1;
            switch (role)
            {
                case "user": AddUser(m, path, output); break;
                case "assistant": AddAssistant(m, path, output, last, keepReasoning: reasoner && index > loopStart); break;
                default: throw ApiException.BadRequest($"{path}.role must be 'user' or 'assistant', got '{role}'.", path + ".role");
            }
            index++;
        }
        if (!output.Any(x => x.Role == "user")) throw ApiException.BadRequest("messages must contain at least one user message.", "messages");
    }

    private static bool IsOnlyToolResults(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var c) || c.ValueKind != JsonValueKind.Array || c.GetArrayLength() == 0) return false;
        foreach (var block in c.EnumerateArray())
            if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var t) || !TextIs(t, "tool_result"))
                return false;
        return true;
    }

    private static void AddUser(JsonElement m, string path, List<PromptMessage> output)
    {
        var content = Content(m, path);
        if (content.ValueKind == JsonValueKind.String)
        {
            output.Add(new PromptMessage("user", Text(content, path + ".content")));
            return;
        }
        var text = new StringBuilder();
        bool anyText = false;
        int i = 0;
        foreach (var block in content.EnumerateArray())
        {
            string bp = $"{path}.content[{i++}]";
            switch (BlockType(block, bp))
            {
                case "text":
                    text.Append(RequiredString(block, "text", bp + ".text"));
                    anyText = true;
                    break;
                case "tool_result":
                    RequiredString(block, "tool_use_id", bp + ".tool_use_id");
                    string result = ToolResultText(block, bp);
                    if (Bool(block, "is_error", bp + ".is_error") == true) result = "Error: " + result;
                    output.Add(new PromptMessage("tool", result));
                    break;
                case var other:
                    throw ApiException.BadRequest($"{bp}: content blocks of type '{other}' are not supported in user messages (text and tool_result are).", bp + ".type");
            }
        }
        if (anyText) output.Add(new PromptMessage("user", text.ToString()));
    }

    private static string ToolResultText(JsonElement block, string path)
    {
        if (!block.TryGetProperty("content", out var c) || c.ValueKind == JsonValueKind.Null) return "";
        if (c.ValueKind == JsonValueKind.String) return Text(c, path + ".content");
        if (c.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest($"{path}.content must be a string or text blocks.", path + ".content");
        var sb = new StringBuilder();
        int i = 0;
        foreach (var part in c.EnumerateArray())
        {
            string pp = $"{path}.content[{i++}]";
            if (BlockType(part, pp) != "text") throw ApiException.BadRequest($"{pp}: tool results may hold text blocks only.", pp + ".type");
            sb.Append(RequiredString(part, "text", pp + ".text"));
        }
        return sb.ToString();
    }

    private static void AddAssistant(JsonElement m, string path, List<PromptMessage> output, bool last, bool keepReasoning)
    {
        var content = Content(m, path);
        if (content.ValueKind == JsonValueKind.String)
        {
            output.Add(new PromptMessage("assistant", Text(content, path + ".content"), Prefix: last));
            return;
        }
        var text = new StringBuilder();
        var reasoning = new StringBuilder();
        var calls = new List<AnthropicToolUse>();
        int i = 0;
        foreach (var block in content.EnumerateArray())
        {
            string bp = $"{path}.content[{i++}]";
            switch (BlockType(block, bp))
            {
                case "text": text.Append(RequiredString(block, "text", bp + ".text")); break;
                case "thinking": reasoning.Append(RequiredString(block, "thinking", bp + ".thinking")); break;
                case "redacted_thinking": break; // nothing readable to feed back
                case "tool_use":
                    string id = RequiredString(block, "id", bp + ".id");
                    string name = RequiredString(block, "name", bp + ".name");
                    if (!block.TryGetProperty("input", out var input) || input.ValueKind != JsonValueKind.Object)
                        throw ApiException.BadRequest($"{bp}.input must be an object.", bp + ".input");
                    calls.Add(new AnthropicToolUse(id, name, input.GetRawText()));
                    break;
                case var other:
                    throw ApiException.BadRequest($"{bp}: content blocks of type '{other}' are not supported in assistant messages.", bp + ".type");
            }
        }
        string? body = text.Length > 0 ? text.ToString() : null;
        output.Add(AnthropicToolUse.ToMessage(body, keepReasoning && reasoning.Length > 0 ? reasoning.ToString() : null, calls, prefix: last && calls.Count == 0));
    }

    private static JsonElement Content(JsonElement m, string path)
    {
        if (!m.TryGetProperty("content", out var c) || c.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
            throw ApiException.BadRequest($"{path}.content must be a string or an array of content blocks.", path + ".content");
        return c;
    }

    private static string BlockType(JsonElement block, string path)
    {
        if (block.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"{path} must be a content block object.", path);
        return RequiredString(block, "type", path + ".type");
    }

    private static List<string> StopSequences(JsonElement root)
    {
        if (!root.TryGetProperty("stop_sequences", out var s) || s.ValueKind == JsonValueKind.Null) return [];
        if (s.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("stop_sequences must be an array of strings.", "stop_sequences");
        var list = new List<string>();
        foreach (var e in s.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.String) throw ApiException.BadRequest("stop_sequences must be an array of strings.", "stop_sequences");
            list.Add(Text(e, "stop_sequences"));
        }
        if (list.Count > 16) throw ApiException.BadRequest("stop_sequences holds at most 16 strings.", "stop_sequences");
        return list;
    }

    private static (List<AnthropicTool> Tools, string? Choice, string? ChoiceName) ParseTools(JsonElement root)
    {
        var tools = new List<AnthropicTool>();
        if (root.TryGetProperty("tools", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            if (t.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("tools must be an array.", "tools");
            int i = 0;
            foreach (var tool in t.EnumerateArray())
            {
                string tp = $"tools[{i++}]";
                if (tool.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest($"{tp} must be an object.", tp);
                string? type = OptionalString(tool, "type", tp + ".type");
                if (type is not (null or "custom"))
                    throw ApiException.BadRequest($"{tp}: server tools ('{type}') are not supported; define client tools with name, description and input_schema.", tp + ".type");
                string name = RequiredString(tool, "name", tp + ".name");
                if (!tool.TryGetProperty("input_schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
                    throw ApiException.BadRequest($"{tp}.input_schema must be a JSON Schema object.", tp + ".input_schema");
                tools.Add(new AnthropicTool(name, OptionalString(tool, "description", tp + ".description"), schema.GetRawText()));
            }
        }
        if (!root.TryGetProperty("tool_choice", out var tc) || tc.ValueKind == JsonValueKind.Null) return (tools, null, null);
        if (tc.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("tool_choice must be an object.", "tool_choice");
        string choice = RequiredString(tc, "type", "tool_choice.type");
        string? choiceName = null;
        switch (choice)
        {
            case "auto" or "none": break;
            case "any":
                if (tools.Count == 0) throw ApiException.BadRequest("tool_choice 'any' needs tools.", "tool_choice");
                break;
            case "tool":
                choiceName = RequiredString(tc, "name", "tool_choice.name");
                if (!tools.Any(x => x.Name == choiceName)) throw ApiException.BadRequest($"tool_choice names '{choiceName}', which is not among the tools.", "tool_choice.name");
                break;
            default: throw ApiException.BadRequest($"tool_choice.type must be auto, any, tool or none, got '{choice}'.", "tool_choice.type");
        }
        return (tools, choice, choiceName);
    }

    /// <summary>
    /// The engine's tool set for the request's tools: <c>any</c> is a required call, <c>tool</c> a named one (both decode
    /// under the input schema's grammar), <c>none</c> and <c>auto</c> as in the OpenAI format. Anthropic has no strict flag:
    /// an unforced tool with a schema the grammar cannot express is offered unconstrained.
    /// </summary>
    private static ToolSet? CompileTools(List<AnthropicTool> tools, string? choice, string? choiceName)
    {
        if (tools.Count == 0) return null;
        var kind = choice switch
        {
            "any" => Inference.Tools.ToolChoice.Required,
            "tool" => Inference.Tools.ToolChoice.Function(choiceName!),
            "none" => Inference.Tools.ToolChoice.None,
            _ => Inference.Tools.ToolChoice.Auto,
        };
        try { return ToolSet.Create(tools.Select(t => new ToolDefinition(t.Name, t.Description, t.InputSchema)).ToList(), kind); }
        catch (ToolDefinitionException e)
        {
            // The engine names OpenAI's paths (tools[i].function.parameters); say them the Anthropic way.
            string? param = e.Param?.Replace("].function.parameters", "].input_schema", StringComparison.Ordinal).Replace("].function", "]", StringComparison.Ordinal);
            string message = e.Message.Replace("].function.parameters", "].input_schema", StringComparison.Ordinal).Replace("].function", "]", StringComparison.Ordinal);
            throw ApiException.BadRequest(message, param);
        }
    }
}

/// <summary>A client tool: name, description and the JSON Schema of its input (raw JSON).</summary>
internal sealed record AnthropicTool(string Name, string? Description, string InputSchema);

/// <summary>A tool_use block sent back by the client: its id, tool name and input (raw JSON).</summary>
internal sealed record AnthropicToolUse(string Id, string Name, string Input)
{
    public static PromptMessage ToMessage(string? text, string? reasoning, List<AnthropicToolUse> calls, bool prefix) =>
        new("assistant", text, calls.Count == 0 ? null : calls.Select(c => new SharpSeek.Tokenizer.Chat.ChatToolCall(c.Name, c.Input)).ToList(), prefix,
            Reasoning: calls.Count == 0 ? null : reasoning);
}
