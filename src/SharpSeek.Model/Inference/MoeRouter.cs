using System.Numerics.Tensors;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Model;

/// <summary>
/// DeepSeekMoE's expert choice for one token at inference, from the router logits W_gate·h: scores s = sigmoid(logits)
/// (V3) or softmax(logits) (V2), then <see cref="ExpertChoice"/>'s selection and weights (the rules training uses too).
/// Stateless apart from its config, so one router serves every session; callers pass the scratch.
/// </summary>
public sealed class MoeRouter
{
    private readonly float[]? _bias;

    public RouterSettings Settings { get; }
    public int ExpertCount => Settings.Experts;
    public int TopK => Settings.TopK;
    public int Groups => Settings.Groups;

    /// <summary>Floats of scratch <see cref="Route"/> needs.</summary>
    public int ScratchLength => 2 * ExpertCount + Groups;

    /// <param name="selectionBias">e_score_correction_bias [n_routed_experts]; required for noaux_tc, ignored otherwise.</param>
    public MoeRouter(ModelConfig config, ReadOnlySpan<float> selectionBias = default)
    {
        Settings = RouterSettings.From(config);
        if (Settings.UsesSelectionBias)
        {
            if (selectionBias.Length != ExpertCount)
                throw new ArgumentException($"noaux_tc routing needs e_score_correction_bias of {ExpertCount} values, got {selectionBias.Length}");
            _bias = selectionBias.ToArray();
        }
    }

    /// <summary>Picks <see cref="TopK"/> experts for one token: <paramref name="ids"/> best first, with their combine weights.</summary>
    public void Route(ReadOnlySpan<float> logits, Span<int> ids, Span<float> weights, Span<float> scratch)
    {
        if (logits.Length != ExpertCount) throw new ArgumentException($"router: {logits.Length} logits for {ExpertCount} experts");
        if (ids.Length != TopK || weights.Length != TopK) throw new ArgumentException($"router: ids and weights must hold top-{TopK}");
        if (scratch.Length < ScratchLength) throw new ArgumentException($"router: scratch needs {ScratchLength} floats, got {scratch.Length}");
        var scores = scratch[..ExpertCount];
        if (Settings.Scoring == ExpertScoring.Sigmoid) TensorPrimitives.Sigmoid(logits, scores);
        else
        {
            logits.CopyTo(scores);
            Activations.Softmax(scores);
        }
        ExpertChoice.Select<float>(Settings, scores, _bias, ids, scratch.Slice(ExpertCount, ExpertCount), scratch.Slice(2 * ExpertCount, Groups));
        ExpertChoice.Weights<float>(Settings, scores, ids, weights);
    }
}
