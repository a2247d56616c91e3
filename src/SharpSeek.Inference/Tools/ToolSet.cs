using System.Text;
using System.Text.Json;

namespace SharpSeek.Inference.Tools;

/// <summary>A tool definition that cannot be used; <see cref="Param"/> is the wire path of the culprit (e.g. <c>tools[1].function.parameters.properties.x.pattern</c>).</summary>
public sealed class ToolDefinitionException(string message, string param) : ArgumentException(message)
{
    public string Param { get; } = param;
}

/// <summary>
/// The tools of one request, validated and compiled for <see cref="ToolCallRecognizer"/>: names (sorted by bytes, so
/// the names sharing a prefix form a range) and each function's argument schema. Build one with <see cref="Create"/>
/// and pass it in <see cref="GenerationRequest.Tools"/> and to <see cref="ChatPromptFormatter.Format(IReadOnlyList{PromptMessage}, ChatMode, ToolSet?)"/>.
/// </summary>
public sealed class ToolSet
{
    /// <summary>Most calls in one reply (required/auto); a named choice makes exactly one.</summary>
    public const int MaxCalls = 16;
    /// <summary>Most tools in one request (DeepSeek's limit).</summary>
    public const int MaxTools = 128;

    private ToolSet(IReadOnlyList<ToolDefinition> definitions, ToolChoice choice, byte[][] names, JsonSchema[] schemas, string[] nameTexts)
    {
        Definitions = definitions;
        Choice = choice;
        SortedNames = names;
        Schemas = schemas;
        NameTexts = nameTexts;
    }

    /// <summary>The tools in request order (the prompt describes them in this order).</summary>
    public IReadOnlyList<ToolDefinition> Definitions { get; }
    public ToolChoice Choice { get; }
    internal byte[][] SortedNames { get; }
    internal string[] NameTexts { get; }
    internal JsonSchema[] Schemas { get; }

    /// <summary>
    /// Validates and compiles <paramref name="tools"/> for <paramref name="choice"/>. Throws
    /// <see cref="ToolDefinitionException"/> for a bad name, a duplicate, an unknown chosen function, a schema that is not
    /// JSON or not an object schema, and a schema keyword the grammar does not support (message and param name it) —
    /// except that for a non-strict tool under <c>auto</c>/<c>none</c> an unsupported schema only loosens that tool's
    /// arguments to "any JSON object", as a server that does not constrain would treat it.
    /// </summary>
    public static ToolSet Create(IReadOnlyList<ToolDefinition> tools, ToolChoice choice, string param = "tools")
    {
        ArgumentNullException.ThrowIfNull(tools);
        if (tools.Count > MaxTools) throw new ToolDefinitionException($"at most {MaxTools} tools are allowed", param);
        if (tools.Count == 0 && choice.Kind is ToolChoiceKind.Required or ToolChoiceKind.Function)
            throw new ToolDefinitionException("tool_choice requires a call, but no tools were given", "tool_choice");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var entries = new List<(byte[] Name, JsonSchema Schema, string Text)>();
        bool forced = choice.Kind is ToolChoiceKind.Required or ToolChoiceKind.Function;
        for (int i = 0; i < tools.Count; i++)
        {
            var t = tools[i];
            string at = $"{param}[{i}].function";
            if (!ValidName(t.Name)) throw new ToolDefinitionException($"{at}.name must be 1–64 characters of a-z, A-Z, 0-9, '_' or '-', got '{t.Name}'", at + ".name");
            if (!seen.Add(t.Name)) throw new ToolDefinitionException($"{at}.name '{t.Name}' is defined twice", at + ".name");
            bool mustCompile = t.Strict || (forced && (choice.Kind == ToolChoiceKind.Required || choice.FunctionName == t.Name));
            entries.Add((Encoding.UTF8.GetBytes(t.Name), Parameters(t, at + ".parameters", mustCompile), t.Name));
        }
        if (choice.Kind == ToolChoiceKind.Function && !seen.Contains(choice.FunctionName ?? ""))
            throw new ToolDefinitionException($"tool_choice names function '{choice.FunctionName}', which is not in tools", "tool_choice");
        entries.Sort((a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        return new ToolSet(tools, choice, entries.Select(e => e.Name).ToArray(), entries.Select(e => e.Schema).ToArray(), entries.Select(e => e.Text).ToArray());
    }

    private static bool ValidName(string? name) =>
        name is { Length: >= 1 and <= 64 } && name.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-');

    private static readonly JsonSchema s_noParameters = JsonSchema.Compile("{\"type\":\"object\",\"additionalProperties\":false}");

    private static JsonSchema Parameters(ToolDefinition t, string at, bool mustCompile)
    {
        if (t.ParametersJson is null) return s_noParameters;
        JsonDocument doc;
        try { doc = JsonDocument.Parse(t.ParametersJson, new JsonDocumentOptions { MaxDepth = 64 }); }
        catch (JsonException e) { throw new ToolDefinitionException($"{at} is not valid JSON: {e.Message}", at); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ToolDefinitionException($"{at} must be a JSON Schema object", at);
            JsonSchema schema;
            try { schema = JsonSchema.Compile(doc.RootElement, t.Strict); }
            catch (JsonSchemaException e)
            {
                string where = e.Path.Length == 0 ? at : at + "." + e.Path;
                if (mustCompile) throw new ToolDefinitionException($"{at}: {e.Message}", where);
                return JsonSchema.AnyObject;
            }
            if (ReferenceEquals(schema, JsonSchema.Any)) return JsonSchema.AnyObject;
            if ((schema.Types & JsonTypes.Object) == 0 || schema.Enum is not null)
                throw new ToolDefinitionException($"{at} must describe an object (type \"object\")", at);
            schema.Types = JsonTypes.Object;
            return schema;
        }
    }
}
