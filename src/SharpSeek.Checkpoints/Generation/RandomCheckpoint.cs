using SharpSeek.Model;

namespace SharpSeek.Checkpoints;

/// <summary>
/// A checkpoint of seeded random weights for any config, laid out as an HF checkpoint (one tensor per expert, fused
/// kv_b_proj, the MTP layer repeating embedding and head). Nothing is held in memory: every tensor is generated when
/// read, so writing it as GGUF or safetensors streams a model of any size.
/// </summary>
/// <remarks>
/// Scales keep activations O(1) through any depth and make logits informative: linear weights are uniform with
/// standard deviation 1/√fan_in (so W·x keeps x's scale), the head the same over the hidden size (logits of std ≈ 1
/// after the final RMSNorm: no ties), the embedding ±1, RMSNorm weights 1 ± 0.2 (varied so a swapped norm shows),
/// and the router wider (logit std ≈ 2) so expert choices are decided by clear margins rather than rounding.
/// </remarks>
public sealed class RandomCheckpoint : ICheckpointSource
{
    private readonly Dictionary<string, PlannedTensor> _plan;
    private readonly ulong _seed;

    public RandomCheckpoint(ModelConfig config, ulong seed)
    {
        config.Validate();
        Config = config;
        _seed = seed;
        _plan = ModelTensorPlan.For(config, Layout).ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public ModelConfig Config { get; }
    public CheckpointLayout Layout => CheckpointLayout.HuggingFace;
    public IEnumerable<PlannedTensor> Tensors => _plan.Values;

    public bool Contains(string name) => _plan.ContainsKey(name);

    public string Describe(string name) => $"random tensor '{name}' (seed {_seed})";

    public TensorValues Values(string name)
    {
        if (!_plan.TryGetValue(name, out var t)) throw new KeyNotFoundException($"a random {Config.ModelType} checkpoint has no tensor '{name}'");
        int h = Config.HiddenSize;
        // The MTP layer's copies of embedding and head are the main tensors' values (drawn with their names).
        string seedName = t.Role switch
        {
            TensorRole.Embedding => WeightNames.Embedding,
            TensorRole.OutputHead => Config.TieWordEmbeddings ? WeightNames.Embedding : WeightNames.OutputHead,
            _ => name,
        };
        var role = seedName == WeightNames.Embedding ? TensorRole.Embedding : t.Role;
        (float center, float amplitude) = role switch
        {
            TensorRole.Embedding => (0f, 1f),
            TensorRole.OutputHead => (0f, MathF.Sqrt(3f / h)),
            TensorRole.Norm => (1f, 0.2f),
            TensorRole.Router => (0f, 2f * MathF.Sqrt(3f / h)),
            TensorRole.RouterBias => (0f, 0.1f),
            TensorRole.Bias => (0f, 0.2f),
            _ => (0f, MathF.Sqrt(3f / t.FanIn)),
        };
        return new RandomTensorValues(_seed, seedName, t.Shape, center, amplitude);
    }
}
