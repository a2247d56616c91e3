namespace SharpSeek.Training.Precision;

/// <summary>What the inputs of one GEMM are rounded to before the f32 multiply-accumulate.</summary>
public enum GemmPrecision
{
    /// <summary>Plain f32.</summary>
    F32,
    /// <summary>Both operands rounded to bfloat16 (round-to-nearest-even), f32 accumulation: what a BF16 tensor core computes.</summary>
    BF16,
    /// <summary>
    /// Both operands quantized to FP8 E4M3 with DeepSeek-V3's fine-grained scales (1×128 activation tiles, 128×128 weight
    /// blocks, 128×1 tiles for the weight-gradient GEMM whose reduction runs over tokens), f32 accumulation.
    /// </summary>
    FP8,
}

/// <summary>The training precision modes.</summary>
public enum TrainingPrecision
{
    F32,
    /// <summary>BF16 GEMM inputs, f32 master weights, f32 optimizer state.</summary>
    BF16,
    /// <summary>DeepSeek-V3's FP8 recipe (simulated): E4M3 GEMM inputs for the block linears, f32 master weights.</summary>
    FP8,
}

/// <summary>
/// Which GEMMs get which input precision. Following DeepSeek-V3 (§3.3), FP8 covers the linear layers inside the
/// blocks (attention projections, dense and expert FFNs, MTP's eh_proj) while the embedding, output head, router,
/// norms and the attention core (softmax(QKᵀ)V) stay in higher precision; BF16 mode also runs the head in BF16.
/// </summary>
public sealed record PrecisionPolicy(GemmPrecision Linears, GemmPrecision OutputHead, GemmPrecision Router)
{
    public static PrecisionPolicy F32 { get; } = new(GemmPrecision.F32, GemmPrecision.F32, GemmPrecision.F32);

    public static PrecisionPolicy For(TrainingPrecision mode) => mode switch
    {
        TrainingPrecision.F32 => F32,
        TrainingPrecision.BF16 => new(GemmPrecision.BF16, GemmPrecision.BF16, GemmPrecision.F32),
        TrainingPrecision.FP8 => new(GemmPrecision.FP8, GemmPrecision.F32, GemmPrecision.F32),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown training precision"),
    };
}
