using SharpSeek.Model;

namespace SharpSeek.Checkpoints;

/// <summary>Named model shapes for the generator and benchmarks: the real checkpoints' configs and tiny test shapes.</summary>
public static class ModelConfigCatalog
{
    private static readonly Dictionary<string, ModelConfig> s_byName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["deepseek-v3"] = ModelPresets.DeepSeekV3,
        ["deepseek-r1"] = ModelPresets.DeepSeekV3,
        ["deepseek-v2-lite"] = ModelPresets.DeepSeekV2Lite,
        ["r1-distill-qwen-1.5b"] = ModelPresets.DeepSeekR1DistillQwen1_5B,
        ["r1-distill-llama-8b"] = ModelPresets.DeepSeekR1DistillLlama8B,
        ["tiny-deepseek-v3"] = ModelPresets.TinyDeepSeekV3,
        ["tiny-deepseek-v2-lite"] = ModelPresets.TinyDeepSeekV2Lite,
        ["tiny-qwen2"] = ModelPresets.TinyQwen2,
        ["tiny-llama"] = ModelPresets.TinyLlama,
    };

    public static IReadOnlyCollection<string> Names => s_byName.Keys;

    /// <summary>The config called <paramref name="name"/>; throws listing the known names otherwise.</summary>
    public static ModelConfig Get(string name)
        => s_byName.TryGetValue(name, out var c) ? c
            : throw new ArgumentException($"unknown model config '{name}'; known: {string.Join(", ", s_byName.Keys.Order())}");
}
