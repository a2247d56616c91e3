using SharpSeek.Model;
using SharpSeek.Tensors;

namespace SharpSeek.Checkpoints;

/// <summary>
/// Tensors already in memory, under their HF names (a training run's parameters, a model being exported), as a
/// checkpoint source — so they reach disk through the same writers as any other checkpoint
/// (<see cref="HuggingFace.HuggingFaceCheckpointWriter"/>), which lay out the MTP layer's repeated embedding and head,
/// the config and the shards. Tensors the HF layout repeats or derives (MTP embedding/head, a tied head) need not be
/// given: <see cref="CheckpointLayoutAdapter"/> finds them from the main ones.
/// </summary>
public sealed class WeightsCheckpoint(ModelConfig config, IReadOnlyDictionary<string, Tensor> tensors, string description) : ICheckpointSource
{
    public ModelConfig Config { get; } = config;
    public CheckpointLayout Layout => CheckpointLayout.HuggingFace;

    public bool Contains(string name) => tensors.ContainsKey(name);

    public TensorValues Values(string name) =>
        tensors.TryGetValue(name, out var t) ? TensorValues.Of(t) : throw new KeyNotFoundException($"{description} has no tensor '{name}'");

    public string Describe(string name) => $"{description}: '{name}'";
}
