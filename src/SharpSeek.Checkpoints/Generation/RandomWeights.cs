using SharpSeek.Model;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Quantization;

namespace SharpSeek.Checkpoints;

/// <summary>How <see cref="RandomWeights.Create"/> lays the weights out.</summary>
public sealed record RandomWeightOptions
{
    /// <summary>
    /// Dtype of the matrices: F32, F16, BF16, F8E4M3 (with DeepSeek's 128×128 block scales) or a GGML block format
    /// (Q8_0, Q4_0, Q4_K, Q6_K; every input width must then hold whole blocks). Norms, router and biases stay F32.
    /// </summary>
    public DType MatrixType { get; init; } = DType.F32;
    /// <summary>Store routed experts as [n_experts, out, in] tensors instead of one per expert.</summary>
    public bool StackedExperts { get; init; }
    /// <summary>Store MLA's up-projection as k_b_proj/v_b_proj (GGUF's split layout) instead of kv_b_proj.</summary>
    public bool SplitMlaUpProjection { get; init; }
    /// <summary>Repeat the embedding and head inside the MTP layer as the HF checkpoint does.</summary>
    public bool MtpOwnEmbeddingAndHead { get; init; }
    /// <summary>Magnitude of the selection bias (e_score_correction_bias) relative to the sigmoid scores.</summary>
    public float RouterBiasScale { get; init; } = 0.1f;
}

/// <summary>
/// A <see cref="RandomCheckpoint"/> built in memory in any layout and weight type. The layout only rearranges the same
/// numbers (through <see cref="CheckpointLayoutAdapter"/>): stacked and separate experts, fused and split MLA
/// projections hold identical values, and so does a random checkpoint written to a file and loaded back.
/// </summary>
public static class RandomWeights
{
    public static ModelWeights Create(ModelConfig config, int seed, RandomWeightOptions? options = null)
    {
        options ??= new RandomWeightOptions();
        if (options.MatrixType is DType.I32 or DType.Q8_K)
            throw new ArgumentException($"{options.MatrixType} is not a weight format");
        var source = new CheckpointLayoutAdapter(new RandomCheckpoint(config, unchecked((ulong)seed)) { RouterBiasScale = options.RouterBiasScale });
        var layout = new CheckpointLayout
        {
            StackedExperts = options.StackedExperts,
            SplitMlaUpProjection = options.SplitMlaUpProjection,
            MtpRepeatsEmbeddingAndHead = options.MtpOwnEmbeddingAndHead,
        };
        var weights = new ModelWeights();
        try
        {
            foreach (var t in ModelSpec.For(config, layout))
                Store(weights, t, source.Values(t).ReadAll(), t.KeepsF32 ? DType.F32 : options.MatrixType);
            return weights;
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    private static void Store(ModelWeights weights, TensorSpec t, float[] values, DType type)
    {
        if (type == DType.F8E4M3)
        {
            // Scales tile the flattened [rows, cols] matrix, which for stacked experts is [E·out, in].
            var flat = Fp8BlockQuantizer.Quantize(values, values.Length / t.FanIn, t.FanIn);
            weights.KeepAlive(flat.BlockScales!);
            if (t.Shape.Length == 2) weights.Add(t.Name, flat);
            else
            {
                weights.KeepAlive(flat);
                weights.Add(t.Name, flat.Reshape(t.Shape), owned: false);
            }
            return;
        }
        var tensor = Tensor.Allocate(type, t.Shape);
        BlockQuantizer.Quantize(type, values, tensor.AsSpan<byte>());
        weights.Add(t.Name, tensor);
    }
}
