using SharpSeek.Tensors;
using SharpSeek.Tensors.Backend;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Model;

/// <summary>Choices made when binding weights to a runnable model.</summary>
public sealed record ModelOptions
{
    /// <summary>Where the heavy operations run; a <see cref="CpuBackend"/> on the shared pool by default.</summary>
    public IComputeBackend? Backend { get; init; }
    /// <summary>MLA form (DeepSeek only): absorbed caches 576 numbers per token per layer for V3, naive 40960.</summary>
    public AttentionMode Attention { get; init; } = AttentionMode.Absorbed;
    /// <summary>Positions the RoPE table covers (sessions cannot go past it); defaults to max_position_embeddings.</summary>
    public int? MaxPositions { get; init; }
    /// <summary>
    /// How Qwen2/Llama pair the rotary dimensions; defaults to <see cref="RopeLayout.Halves"/> (HF weights).
    /// llama.cpp's converter permutes Llama's q/k rows so that GGUF llama files need <see cref="RopeLayout.Interleaved"/>.
    /// DeepSeek always uses the interleaved form.
    /// </summary>
    public RopeLayout? DenseRopeLayout { get; init; }
    /// <summary>
    /// Element type of cached keys/values in sessions made by <see cref="LanguageModel.CreateSession"/>: F16 (default,
    /// as llama.cpp), BF16 or F32 (exact, twice the bytes).
    /// </summary>
    public DType KvCacheType { get; init; } = DType.F16;
}

/// <summary>Which rows of logits a forward call produces.</summary>
public enum LogitsFor
{
    /// <summary>Only the last token's row ([vocab]).</summary>
    LastPosition,
    /// <summary>One row per token ([tokens, vocab]).</summary>
    AllPositions,
    /// <summary>No logits (a prefill whose output is not needed).</summary>
    None,
}

/// <summary>
/// Weights bound to a forward pass. One instance serves any number of sequences: a <see cref="ForwardBatch"/> runs
/// many of them through one pass, each with its cache in a <see cref="KvPagePool"/>; an <see cref="InferenceSession"/>
/// is the one-sequence convenience over the same pass. Create with <see cref="Create"/>.
/// </summary>
public abstract class LanguageModel : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public ModelConfig Config { get; }
    public ModelOptions Options { get; }
    public IComputeBackend Backend { get; }
    internal RopeTable Rope { get; }
    internal float Eps { get; }

    /// <summary>Number of MTP depths this model can run (0 without MTP weights).</summary>
    public virtual int MtpDepth => 0;

    protected LanguageModel(ModelConfig config, ModelOptions options, RopeLayout ropeLayout)
    {
        config.Validate();
        Config = config;
        Options = options;
        Backend = options.Backend ?? new CpuBackend();
        Eps = (float)config.RmsNormEps;
        int positions = options.MaxPositions ?? config.MaxPositionEmbeddings;
        if (positions <= 0) throw new ArgumentOutOfRangeException(nameof(options), positions, "MaxPositions must be positive");
        Rope = new RopeTable(config.RopeDims, positions, (float)config.RopeTheta, config.RopeScaling?.ToYarn(), ropeLayout, RopeFrequencyFactors.Of(config));
    }

    /// <summary>Binds <paramref name="weights"/> (named per <see cref="WeightNames"/>) to the forward pass of the config's architecture.</summary>
    public static LanguageModel Create(ModelConfig config, ModelWeights weights, ModelOptions? options = null)
    {
        options ??= new ModelOptions();
        return config.Architecture == ModelArchitecture.DeepSeek
            ? new DeepSeekModel(config, weights, options)
            : new DenseTransformerModel(config, weights, options);
    }

    /// <summary>Positions a sequence can reach (the RoPE table's length, <see cref="ModelOptions.MaxPositions"/>).</summary>
    public int MaxPositions => Rope.MaxPositions;

    /// <summary>
    /// A sequence with room for <paramref name="maxContext"/> positions, run in chunks of at most <paramref name="maxBatch"/>
    /// tokens, with its own page pool (cache rows in <see cref="ModelOptions.KvCacheType"/> unless
    /// <paramref name="kvCacheType"/> says otherwise).
    /// </summary>
    public InferenceSession CreateSession(int maxContext, int maxBatch = 64, DType? kvCacheType = null)
    {
        if (maxContext <= 0 || maxContext > Rope.MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(maxContext), maxContext, $"context must be in [1, {Rope.MaxPositions}] (ModelOptions.MaxPositions)");
        if (maxBatch <= 0) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "batch must be positive");
        return new InferenceSession(this, maxContext, Math.Min(maxBatch, maxContext), kvCacheType ?? Options.KvCacheType);
    }

    /// <summary>KV-cache bytes per token over the main layers in this model's attention form, for <see cref="ModelOptions.KvCacheType"/>.</summary>
    public long KvCacheBytesPerToken => Config.KvCacheBytesPerToken(Options.Attention, Options.KvCacheType == DType.F32 ? 4 : 2);

    /// <summary>Elements of one cached position per layer: key row, value row (0 when the value lives in the key row).</summary>
    public abstract (int Keys, int Values) CacheRowWidths { get; }

    internal abstract BatchScratch CreateScratch(int maxTokens);

    /// <summary>
    /// Runs every main-model segment of <paramref name="batch"/> through the blocks, writing their cache rows, then the
    /// final norm (into the scratch's final hidden states) and the requested logits (<see cref="ForwardBatch.Head"/>).
    /// </summary>
    internal abstract void Forward(ForwardBatch batch);

    /// <summary>Runs the batch's segments through MTP depth <paramref name="depth"/>; see <see cref="ForwardBatch.AddMtp"/>.</summary>
    internal virtual void ForwardMtp(ForwardBatch batch, int depth)
        => throw new NotSupportedException($"this {Config.ModelType} model has no multi-token-prediction layers");

    /// <summary>Rotates, for every segment of <paramref name="batch"/>, its rows of <paramref name="x"/> at the segment's positions.</summary>
    internal void RopeRows(ForwardBatch batch, Span<float> x, int tokenStride, int heads, int headStride, int offset)
    {
        foreach (var s in batch.Segments)
            Backend.Rope(Rope, x[(s.FirstRow * tokenStride)..], s.Tokens, tokenStride, heads, headStride, offset, s.FirstPosition);
    }

    /// <summary>Registers a tensor the model made while binding (a conversion, a transposed copy) for disposal.</summary>
    internal Tensor Own(Tensor t)
    {
        _owned.Add(t);
        return t;
    }

    /// <summary>A small vector weight (norm, bias) as an F32 tensor of <paramref name="length"/>, converting if stored otherwise.</summary>
    internal Tensor F32Vector(ModelWeights weights, string name, int length)
    {
        var t = weights[name];
        if (t.ElementCount != length) throw new ArgumentException($"weight '{name}' has {t.ElementCount} elements, expected {length}");
        if (t.DType == DType.F32 && t.IsContiguous) return t.Rank == 1 ? t : t.Reshape(length);
        return Own(Tensor.FromArray(WeightConversion.ToF32(Backend, t), length));
    }

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _owned.Clear();
        GC.SuppressFinalize(this);
    }
}
