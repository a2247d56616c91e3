namespace SharpSeek.Checkpoints;

/// <summary>What a tensor does in the model; decides its random initialisation and the dtype a writer stores it in.</summary>
public enum TensorRole
{
    /// <summary>Token embedding table [vocab, hidden] (also the MTP layer's repeated copy).</summary>
    Embedding,
    /// <summary>Output head [vocab, hidden] (also the MTP layer's repeated copy).</summary>
    OutputHead,
    /// <summary>RMSNorm weight (1-D, kept F32 in GGUF files).</summary>
    Norm,
    /// <summary>A linear weight [out, in], or a stack of them [n, out, in] (experts, per-head MLA projections).</summary>
    Linear,
    /// <summary>MoE router [n_experts, hidden] (kept F32 in GGUF files, as llama.cpp's converter does).</summary>
    Router,
    /// <summary>The router's selection bias (e_score_correction_bias; kept F32).</summary>
    RouterBias,
    /// <summary>A projection bias (Qwen2's q/k/v; kept F32).</summary>
    Bias,
}

/// <summary>One tensor a checkpoint of a given config holds: its HF-style name (see <see cref="SharpSeek.Model.WeightNames"/>), row-major shape and role.</summary>
public sealed record PlannedTensor(string Name, int[] Shape, TensorRole Role)
{
    public long ElementCount => SharpSeek.Tensors.Tensor.ShapeElements(Shape);

    /// <summary>Input width: the last dimension.</summary>
    public int FanIn => Shape[^1];

    /// <summary>True for tensors that stay F32 whatever the file's weight type (norms, router, biases), as llama.cpp's converter keeps them.</summary>
    public bool KeepsF32 => Role is TensorRole.Norm or TensorRole.Router or TensorRole.RouterBias or TensorRole.Bias;

    public string ShapeText => $"[{string.Join(", ", Shape)}]";
}
