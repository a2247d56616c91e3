using System.Numerics.Tensors;
using SharpSeek.Tensors;
using Tensor = SharpSeek.Tensors.Tensor;
using SharpSeek.Tensors.Backend;

namespace SharpSeek.Model;

/// <summary>
/// DeepSeekMoE: y = Σ_{e ∈ top-k} w_e · Expert_e(x) + Shared(x). The router picks experts per token
/// (<see cref="MoeRouter"/>); the backend's single dispatch/combine call runs the routed experts.
/// </summary>
internal sealed class MoeFeedForward
{
    private readonly Tensor _router;
    private readonly ExpertWeights _experts;
    private readonly DenseFeedForward? _shared;

    public MoeRouter Router { get; }

    public MoeFeedForward(LanguageModel owner, ModelWeights w, int layer)
    {
        var c = owner.Config;
        int h = c.HiddenSize, e = c.NRoutedExperts, f = c.MoeIntermediateSize;
        _router = w.Get(WeightNames.Router(layer), e, h);
        float[] bias = c.TopkMethod == ExpertSelection.NoAuxTopkCorrected
            ? WeightConversion.ToF32(owner.Backend, owner.F32Vector(w, WeightNames.RouterBias(layer), e))
            : [];
        Router = new MoeRouter(c, bias);

        if (w.Contains(WeightNames.StackedExpertGate(layer)))
            _experts = ExpertWeights.FromStacked(
                w.Get(WeightNames.StackedExpertGate(layer), e, f, h),
                w.Get(WeightNames.StackedExpertUp(layer), e, f, h),
                w.Get(WeightNames.StackedExpertDown(layer), e, h, f));
        else
        {
            var gate = new Tensor[e];
            var up = new Tensor[e];
            var down = new Tensor[e];
            for (int x = 0; x < e; x++)
            {
                gate[x] = w.Get(WeightNames.ExpertGate(layer, x), f, h);
                up[x] = w.Get(WeightNames.ExpertUp(layer, x), f, h);
                down[x] = w.Get(WeightNames.ExpertDown(layer, x), h, f);
            }
            _experts = new ExpertWeights(gate, up, down);
        }
        if (c.NSharedExperts > 0)
            _shared = new DenseFeedForward(w, WeightNames.SharedGate(layer), WeightNames.SharedUp(layer), WeightNames.SharedDown(layer),
                h, c.NSharedExperts * f);
    }

    /// <summary>y[m, hidden] = MoE(x[m, hidden]); y is overwritten.</summary>
    public void Forward(IComputeBackend backend, ReadOnlySpan<float> x, Span<float> y, int m, MoeScratch s, FeedForwardScratch ffn)
    {
        int e = Router.ExpertCount, k = Router.TopK, h = _experts.HiddenSize;
        var logits = s.RouterLogits.AsSpan(0, m * e);
        backend.Linear(_router, x, logits, m);
        var ids = s.Ids.AsSpan(0, m * k);
        var weights = s.Weights.AsSpan(0, m * k);
        for (int t = 0; t < m; t++)
            Router.Route(logits.Slice(t * e, e), ids.Slice(t * k, k), weights.Slice(t * k, k), s.RouterScratch);

        backend.MoeDispatchCombine(_experts, x, m, ids, weights, k, y);

        if (_shared is not null)
        {
            var shared = s.SharedOut.AsSpan(0, m * h);
            _shared.Forward(backend, x, shared, m, ffn);
            TensorPrimitives.Add(y[..(m * h)], shared, y[..(m * h)]);
        }
    }
}

/// <summary>Per-session routing buffers for a batch of tokens.</summary>
internal sealed class MoeScratch(ModelConfig c, int maxBatch)
{
    public float[] RouterLogits { get; } = new float[maxBatch * c.NRoutedExperts];
    public int[] Ids { get; } = new int[maxBatch * c.NumExpertsPerTok];
    public float[] Weights { get; } = new float[maxBatch * c.NumExpertsPerTok];
    public float[] RouterScratch { get; } = new float[2 * c.NRoutedExperts + c.NGroup];
    public float[] SharedOut { get; } = new float[maxBatch * c.HiddenSize];
}
