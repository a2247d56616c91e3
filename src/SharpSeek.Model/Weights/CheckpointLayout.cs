namespace SharpSeek.Model;

/// <summary>
/// How a checkpoint arranges the tensors that have more than one standard layout. HF checkpoints keep one tensor per
/// expert and the fused MLA up-projection; GGUF files (llama.cpp's converter) stack the experts and split the
/// up-projection per head. <see cref="ModelSpec.For"/> lists a config's tensors in a layout; Checkpoints' layout
/// adapter reads one layout's values as another.
/// </summary>
public sealed record CheckpointLayout
{
    /// <summary>Routed experts as one [n_experts, out, in] tensor per projection instead of one tensor per expert.</summary>
    public bool StackedExperts { get; init; }

    /// <summary>MLA's up-projection as k_b_proj [nh, kv_lora_rank, dn] + v_b_proj [nh, dv, kv_lora_rank] instead of kv_b_proj.</summary>
    public bool SplitMlaUpProjection { get; init; }

    /// <summary>Include the multi-token-prediction layers (layer index num_hidden_layers + k).</summary>
    public bool IncludeMtp { get; init; } = true;

    /// <summary>The MTP layer repeats the embedding and head (embed_tokens, shared_head.head) as the released V3 checkpoint does.</summary>
    public bool MtpRepeatsEmbeddingAndHead { get; init; }

    /// <summary>What HF checkpoints (safetensors directories) use.</summary>
    public static CheckpointLayout HuggingFace { get; } = new() { MtpRepeatsEmbeddingAndHead = true };

    /// <summary>What a training model holds: HF's layout without the MTP layer's repeated embedding and head.</summary>
    public static CheckpointLayout Training { get; } = new();

    /// <summary>What llama.cpp's deepseek2 GGUF files use.</summary>
    public static CheckpointLayout Gguf { get; } = new() { StackedExperts = true, SplitMlaUpProjection = true };
}
