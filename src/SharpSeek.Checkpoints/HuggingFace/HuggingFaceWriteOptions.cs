using SharpSeek.Tensors;

namespace SharpSeek.Checkpoints.HuggingFace;

/// <summary>Choices for <see cref="HuggingFaceCheckpointWriter"/>.</summary>
public sealed record HuggingFaceWriteOptions
{
    /// <summary>
    /// Type of the linear weights: F32, F16, BF16, or F8E4M3 (DeepSeek-V3's block-scaled FP8, each weight followed by its
    /// <c>weight_scale_inv</c>, with the matching quantization_config in config.json).
    /// </summary>
    public DType WeightType { get; init; } = DType.BF16;

    /// <summary>Type of everything else (embedding, head, norms, router, biases); defaults to F32 for F32 files, else BF16 (as DeepSeek's checkpoints).</summary>
    public DType? OtherType { get; init; }

    /// <summary>Above this much tensor data the checkpoint is sharded (model-0000i-of-0000n.safetensors + index).</summary>
    public long MaxShardBytes { get; init; } = 4L << 30;

    /// <summary>Write the MTP layers when the source has them.</summary>
    public bool IncludeMtp { get; init; } = true;

    /// <summary>Called with each tensor's name and dtype as it is written.</summary>
    public Action<string, DType>? Progress { get; init; }
}
