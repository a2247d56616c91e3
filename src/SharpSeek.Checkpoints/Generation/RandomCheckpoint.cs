using SharpSeek.Model;

namespace SharpSeek.Checkpoints;

/// <summary>
/// A checkpoint of seeded random weights for any config, laid out as an HF checkpoint (one tensor per expert, fused
/// kv_b_proj, the MTP layer repeating embedding and head) and filled with each tensor's test initialisation
/// (<see cref="TensorSpec.TestInit"/>). Nothing is held in memory: every tensor is generated when read, so writing it as
/// GGUF or safetensors streams a model of any size, and <see cref="RandomWeights"/> builds the same model in memory.
/// </summary>
public sealed class RandomCheckpoint : ICheckpointSource
{
    private readonly Dictionary<string, TensorSpec> _spec;
    private readonly ulong _seed;

    public RandomCheckpoint(ModelConfig config, ulong seed)
    {
        Config = config;
        _seed = seed;
        _spec = ModelSpec.For(config, Layout).ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public ModelConfig Config { get; }
    public CheckpointLayout Layout => CheckpointLayout.HuggingFace;

    /// <summary>Amplitude of the selection bias (e_score_correction_bias) relative to the sigmoid scores.</summary>
    public double RouterBiasScale { get; init; } = 0.1;

    public bool Contains(string name) => _spec.ContainsKey(name);

    public string Describe(string name) => $"random tensor '{name}' (seed {_seed})";

    public TensorValues Values(string name)
    {
        if (!_spec.TryGetValue(name, out var t)) throw new KeyNotFoundException($"a random {Config.ModelType} checkpoint has no tensor '{name}'");
        var init = t.Role == TensorRole.RouterBias ? TensorInit.Uniform(0, RouterBiasScale) : t.TestInit;
        return new RandomTensorValues(_seed, t.SeedName, t.Shape, init);
    }
}
