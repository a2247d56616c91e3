using SharpSeek.Fuzz.Targets;

namespace SharpSeek.Fuzz;

/// <summary>Every target, by name.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("gguf", "GGUF reader (header, metadata, tensor table) and the loaders that read its model and tokenizer metadata", GgufTarget.Run),
        new("safetensors", "safetensors reader (header JSON, tensor table, data ranges)", SafetensorsTarget.Run),
        new("tokenizer", "tokenizer.json (+ tokenizer_config.json after a NUL byte), then encode/decode sample text", TokenizerTarget.Run),
        new("chat-request", "/chat/completions and /beta/completions request bodies, then prompt formatting", ChatRequestTarget.Run),
        new("anthropic-request", "/anthropic/v1/messages request bodies, then prompt formatting", AnthropicRequestTarget.Run),
        new("context-block", "context-cache block files (*.kvb) read back from disk", ContextBlockTarget.Run),
        new("json-schema", "JSON-schema compiler (schema, then a NUL byte, then a value fed to the grammar)", JsonSchemaTarget.Run),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
