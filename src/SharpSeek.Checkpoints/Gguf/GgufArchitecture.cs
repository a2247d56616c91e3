using SharpSeek.Model;

namespace SharpSeek.Checkpoints.Gguf;

/// <summary>The llama.cpp architectures (<c>general.architecture</c>) this codebase reads and writes.</summary>
public static class GgufArchitecture
{
    public const string DeepSeek2 = "deepseek2";
    public const string Qwen2 = "qwen2";
    public const string Llama = "llama";

    public static IReadOnlyList<string> Supported { get; } = [DeepSeek2, Qwen2, Llama];

    /// <summary>The GGUF architecture a config is written as.</summary>
    public static string For(ModelConfig config) => config.Architecture switch
    {
        ModelArchitecture.DeepSeek => DeepSeek2,
        ModelArchitecture.Qwen2 => Qwen2,
        _ => Llama,
    };
}
