using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Inference.Tools;

namespace SharpSeek.Fuzz.Targets;

/// <summary>
/// The JSON-schema compiler behind tool parameters: a schema, optionally followed by a NUL byte and a value that is
/// fed to the grammar the schema compiles to.
/// </summary>
/// <remarks>
/// Clean rejections: <see cref="JsonException"/> for schema text that is not JSON (tool parameters arrive as JSON the
/// server already parsed), <see cref="JsonSchemaException"/> for a schema the grammar does not support. Two
/// properties are checked on every compiled schema: feeding the value in one piece and byte by byte agree, and a value
/// the grammar accepts as complete is valid JSON.
/// </remarks>
internal static class JsonSchemaTarget
{
    public static void Run(byte[] input)
    {
        int nul = Array.IndexOf(input, (byte)0);
        byte[] schemaBytes = nul < 0 ? input : input[..nul];
        byte[] value = nul < 0 ? [] : input[(nul + 1)..];
        JsonDocument doc;
        try { doc = JsonDocument.Parse(schemaBytes, new JsonDocumentOptions { MaxDepth = 64 }); }
        catch (JsonException) { return; }
        using (doc)
        {
            foreach (bool strict in (ReadOnlySpan<bool>)[false, true])
            {
                JsonSchema schema;
                try { schema = JsonSchema.Compile(doc.RootElement, strict); }
                catch (JsonSchemaException) { continue; }
                Feed(schema, value);
            }
        }
    }

    private static void Feed(JsonSchema schema, byte[] value)
    {
        var whole = new JsonValueRecognizer(schema);
        bool wholeAccepted = value.Length > 0 && whole.TryFeed(value);

        var stepwise = new JsonValueRecognizer(schema);
        int accepted = 0;
        while (accepted < value.Length && stepwise.TryFeed(value.AsSpan(accepted, 1))) accepted++;
        if (wholeAccepted != (value.Length > 0 && accepted == value.Length))
            throw new FuzzPropertyException($"the grammar accepts {(wholeAccepted ? "the value whole but not byte by byte" : "the value byte by byte but not whole")}");
        if (wholeAccepted && whole.IsComplete != stepwise.IsComplete)
            throw new FuzzPropertyException("feeding whole and byte by byte disagree on whether the value is complete");

        if (wholeAccepted && whole.IsComplete)
        {
            try { using var _ = JsonDocument.Parse(value, new JsonDocumentOptions { MaxDepth = JsonSchema.MaxDepth + 2 }); }
            catch (JsonException e) { throw new FuzzPropertyException($"the grammar accepted a complete value that is not JSON: {e.Message}"); }
        }
    }
}
