using System.Numerics.Tensors;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Model;

/// <summary>
/// DeepSeekMoE's expert choice for one token, from the router logits W_gate·h:
/// <list type="number">
/// <item>scores s = sigmoid(logits) (V3) or softmax(logits) (V2);</item>
/// <item>selection values = s + e_score_correction_bias (noaux_tc only; the bias steers the choice, never the weights);</item>
/// <item>group-limited routing (n_group &gt; 1): a group is scored by the sum of its top-2 selection values (noaux_tc)
/// or its best one (group_limited_greedy); all but the best topk_group groups are masked to −∞;</item>
/// <item>the num_experts_per_tok best selection values pick the experts;</item>
/// <item>weights = their unbiased s, divided by their sum when norm_topk_prob, then times routed_scaling_factor.</item>
/// </list>
/// Stateless apart from its config, so one router serves every session; callers pass the scratch.
/// </summary>
public sealed class MoeRouter
{
    private readonly float[]? _bias;

    public int ExpertCount { get; }
    public int TopK { get; }
    public int Groups { get; }
    public int TopKGroups { get; }
    public ExpertScoring Scoring { get; }
    public ExpertSelection Selection { get; }
    public bool NormalizeWeights { get; }
    public float ScalingFactor { get; }

    /// <summary>Floats of scratch <see cref="Route"/> needs.</summary>
    public int ScratchLength => 2 * ExpertCount + Groups;

    /// <param name="selectionBias">e_score_correction_bias [n_routed_experts]; required for noaux_tc, ignored otherwise.</param>
    public MoeRouter(ModelConfig config, ReadOnlySpan<float> selectionBias = default)
    {
        ExpertCount = config.NRoutedExperts;
        TopK = config.NumExpertsPerTok;
        Scoring = config.ScoringFunc;
        Selection = config.TopkMethod;
        NormalizeWeights = config.NormTopkProb;
        ScalingFactor = (float)config.RoutedScalingFactor;
        bool grouped = Selection != ExpertSelection.Greedy && config.NGroup > 1;
        Groups = grouped ? config.NGroup : 1;
        TopKGroups = grouped ? config.TopkGroup : 1;
        if (Selection == ExpertSelection.NoAuxTopkCorrected)
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
        var choice = scratch.Slice(ExpertCount, ExpertCount);
        var groupScores = scratch.Slice(2 * ExpertCount, Groups);

        if (Scoring == ExpertScoring.Sigmoid) TensorPrimitives.Sigmoid(logits, scores);
        else
        {
            logits.CopyTo(scores);
            Activations.Softmax(scores);
        }
        if (_bias is not null) TensorPrimitives.Add(scores, _bias, choice);
        else scores.CopyTo(choice);

        if (Groups > 1)
        {
            int perGroup = ExpertCount / Groups;
            for (int g = 0; g < Groups; g++)
            {
                var group = choice.Slice(g * perGroup, perGroup);
                groupScores[g] = Selection == ExpertSelection.NoAuxTopkCorrected ? SumOfTopTwo(group) : TensorPrimitives.Max(group);
            }
            Span<int> kept = stackalloc int[TopKGroups];
            Tensors.Kernels.Selection.TopK(groupScores, kept);
            for (int g = 0; g < Groups; g++)
                if (kept.IndexOf(g) < 0) choice.Slice(g * perGroup, perGroup).Fill(float.NegativeInfinity);
        }

        Tensors.Kernels.Selection.TopK(choice, ids);
        for (int j = 0; j < TopK; j++) weights[j] = scores[ids[j]];
        if (NormalizeWeights)
        {
            // HF adds 1e-20 so an all-zero pick cannot divide by zero.
            float sum = TensorPrimitives.Sum(weights);
            TensorPrimitives.Multiply(weights, 1f / (sum + 1e-20f), weights);
        }
        TensorPrimitives.Multiply(weights, ScalingFactor, weights);
    }

    private static float SumOfTopTwo(ReadOnlySpan<float> x)
    {
        float a = float.NegativeInfinity, b = float.NegativeInfinity;
        foreach (float v in x)
        {
            if (v > a) { b = a; a = v; }
            else if (v > b) b = v;
        }
        return a + b;
    }
}
