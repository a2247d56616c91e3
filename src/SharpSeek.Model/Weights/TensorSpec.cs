using SharpSeek.Tensors;

namespace SharpSeek.Model;

/// <summary>What a tensor does in the model; decides its initialisation, its optimizer treatment and the dtype a writer stores it in.</summary>
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
    /// <summary>The router's selection bias (e_score_correction_bias; kept F32; set by bias balancing, not by gradients).</summary>
    RouterBias,
    /// <summary>A projection bias (Qwen2's q/k/v; kept F32).</summary>
    Bias,
}

/// <summary>
/// One tensor of a model (see <see cref="ModelSpec"/>): its HF-style name (<see cref="WeightNames"/>), row-major shape,
/// role, and the two ways it is filled when no checkpoint supplies it.
/// </summary>
public sealed record TensorSpec(string Name, int[] Shape, TensorRole Role)
{
    public long ElementCount => Tensor.ShapeElements(Shape);

    /// <summary>Input width: the last dimension.</summary>
    public int FanIn => Shape[^1];

    /// <summary>True for tensors that stay F32 whatever the file's weight type (norms, router, biases), as llama.cpp's converter keeps them.</summary>
    public bool KeepsF32 => Role is TensorRole.Norm or TensorRole.Router or TensorRole.RouterBias or TensorRole.Bias;

    public string ShapeText => $"[{string.Join(", ", Shape)}]";

    /// <summary>The tensor whose values this one repeats (the MTP layer's copies of embedding and head), or null.</summary>
    public string? Repeats { get; init; }

    /// <summary>The name its random values are drawn under: a repeated copy draws the original's, so the two are equal.</summary>
    public string SeedName => Repeats ?? Name;

    /// <summary>The training initialisation (DeepSeek-V3 style: see <see cref="ModelSpec"/>).</summary>
    public required TensorInit Init { get; init; }

    /// <summary>How a random test model fills it: bounded values that make mix-ups and routing visible (see <see cref="ModelSpec"/>).</summary>
    public required TensorInit TestInit { get; init; }
}

/// <summary>How an initialiser draws a tensor's values.</summary>
public enum InitKind
{
    /// <summary>Every element is <see cref="TensorInit.Center"/>.</summary>
    Constant,
    /// <summary>Center + Scale·U(−1, 1): one 64-bit draw per element.</summary>
    Uniform,
    /// <summary>Center + Scale·N(0, 1) (Box–Muller): two draws per element.</summary>
    Gaussian,
}

/// <summary>
/// The one seeded initialiser. A tensor's values are one <see cref="DeterministicRandom"/> stream seeded by (seed,
/// name), so they do not depend on parameter order, layout or which other tensors exist, mean the same on every .NET,
/// and any range of elements can be produced on its own (<see cref="DeterministicRandom.At"/>): a generator that
/// streams a multi-GB tensor row by row writes the same numbers as one that fills it whole.
/// </summary>
public readonly record struct TensorInit(InitKind Kind, double Center, double Scale)
{
    public static TensorInit Constant(double value) => new(InitKind.Constant, value, 0);
    public static TensorInit Uniform(double center, double amplitude) => new(InitKind.Uniform, center, amplitude);
    public static TensorInit Gaussian(double std) => new(InitKind.Gaussian, 0, std);

    /// <summary>Writes elements [<paramref name="firstElement"/>, +destination.Length) of the tensor drawn under <paramref name="seedName"/>.</summary>
    public void Fill<T>(ulong seed, string seedName, long firstElement, Span<T> destination)
        where T : System.Numerics.INumberBase<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstElement);
        if (Kind == InitKind.Constant)
        {
            destination.Fill(T.CreateTruncating(Center));
            return;
        }
        ulong start = DeterministicRandom.SeedFor(seed, seedName);
        if (Kind == InitKind.Uniform)
        {
            var rng = DeterministicRandom.At(start, (ulong)firstElement);
            for (int i = 0; i < destination.Length; i++) destination[i] = T.CreateTruncating(Center + Scale * (rng.NextDouble() * 2 - 1));
        }
        else
        {
            var rng = DeterministicRandom.At(start, 2 * (ulong)firstElement);
            for (int i = 0; i < destination.Length; i++)
            {
                double v = rng.NextGaussian() * Scale;
                destination[i] = T.CreateTruncating(Center == 0 ? v : Center + v);
            }
        }
    }
}
