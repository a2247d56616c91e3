using SharpSeek.Model;
using SharpSeek.Formats.Gguf;
using SharpSeek.Tensors;

namespace SharpSeek.Checkpoints.Gguf;

/// <summary>Choices for <see cref="GgufCheckpointWriter"/>.</summary>
public sealed record GgufWriteOptions
{
    /// <summary>
    /// Type of the linear weights, embedding and head: F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K. Norms, router and biases
    /// stay F32 (as llama.cpp's converter keeps them). A tensor whose rows do not split into whole blocks falls back:
    /// Q4_K → Q8_0 (llama.cpp's quantizer picks Q5_0, which SharpSeek does not implement), then → F16.
    /// </summary>
    public DType WeightType { get; init; } = DType.F32;

    /// <summary>Overrides <see cref="WeightType"/> for the token embedding and the output head (e.g. keep them Q8_0 in a Q4_K file).</summary>
    public DType? EmbeddingType { get; init; }

    /// <summary>Per-tensor choice (by HF-style name) that wins over the rules above when it returns a dtype; row-length fallbacks still apply.</summary>
    public Func<TensorSpec, DType?>? TypeOverride { get; init; }

    /// <summary>Write the MTP layers when the source has them (llama.cpp loads them, or skips them unless asked to).</summary>
    public bool IncludeMtp { get; init; } = true;

    /// <summary>
    /// Write MLA's up-projection as one <c>attn_kv_b</c> with the per-head widths in <c>attention.key_length</c>/<c>value_length</c>,
    /// as llama.cpp's converter did before it split the projection (llama.cpp then runs MLA as plain multi-head attention).
    /// </summary>
    public bool LegacyMlaLayout { get; init; }

    /// <summary><c>general.name</c>.</summary>
    public string? Name { get; init; }

    /// <summary>Extra metadata (e.g. the <c>tokenizer.ggml.*</c> entries of the source). Without them the file gets a placeholder byte-level vocabulary (<see cref="GgufTokenizerMetadata.Placeholder"/>).</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>>? ExtraMetadata { get; init; }

    /// <summary>Called with each tensor's GGUF name and dtype as it is written.</summary>
    public Action<string, DType>? Progress { get; init; }
}
