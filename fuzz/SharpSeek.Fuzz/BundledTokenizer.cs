using SharpSeek.Inference;
using SharpSeek.Tokenizer;

namespace SharpSeek.Fuzz;

/// <summary>The bundled model's tokenizer (embedded in this assembly), loaded once: the request targets format prompts with it.</summary>
internal static class BundledTokenizer
{
    private static readonly Lazy<ChatPromptFormatter> s_prompts = new(() => new ChatPromptFormatter(Load()));

    public static ChatPromptFormatter Prompts => s_prompts.Value;

    /// <summary>The name a server serving the bundled model accepts as a chat model.</summary>
    public const string ServedModelName = "sharpseek-r1-tiny";

    private static ByteLevelBpeTokenizer Load() =>
        ByteLevelBpeTokenizer.FromHuggingFaceJson(Resource("tokenizer.json"), Resource("tokenizer_config.json"));

    private static byte[] Resource(string name)
    {
        using var stream = typeof(BundledTokenizer).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"resource {name} is not embedded in the fuzz assembly");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
