using System.Numerics;
using System.Numerics.Tensors;
using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Model;

/// <summary>The routing rules of one MoE layer, read once from the HF config; inference and training both route by them.</summary>
public sealed record RouterSettings(int Experts, int TopK, ExpertScoring Scoring, ExpertSelection Selection, int Groups, int TopKGroups,
    bool NormalizeWeights, double ScalingFactor)
{
    /// <summary>The config's rules; group limiting applies only to grouped methods with n_group &gt; 1.</summary>
    public static RouterSettings From(ModelConfig c)
    {
        bool grouped = c.TopkMethod != ExpertSelection.Greedy && c.NGroup > 1;
        return new RouterSettings(c.NRoutedExperts, c.NumExpertsPerTok, c.ScoringFunc, c.TopkMethod,
            grouped ? c.NGroup : 1, grouped ? c.TopkGroup : 1, c.NormTopkProb, c.RoutedScalingFactor);
    }

    /// <summary>Does selection add the aux-loss-free bias (V3's noaux_tc)?</summary>
    public bool UsesSelectionBias => Selection == ExpertSelection.NoAuxTopkCorrected;
}

/// <summary>
/// DeepSeekMoE's discrete expert choice for one token, shared by the inference router (float) and the training op
/// (any float type), so the two cannot drift apart:
/// <list type="number">
/// <item>selection values = scores + e_score_correction_bias (noaux_tc only; the bias steers the choice, never the weights);</item>
/// <item>group-limited routing (Groups &gt; 1): a group is scored by the sum of its top-2 selection values (noaux_tc)
/// or its best one (group_limited_greedy); all but the best TopKGroups groups are masked to −∞;</item>
/// <item>the TopK best selection values pick the experts, best first, lower index first on ties;</item>
/// <item>weights = their unbiased scores, divided by their sum when NormalizeWeights, then times ScalingFactor.</item>
/// </list>
/// </summary>
public static class ExpertChoice
{
    /// <summary>
    /// Picks <paramref name="ids"/>.Length experts from <paramref name="scores"/>; <paramref name="bias"/> is empty when
    /// the method has none. <paramref name="choice"/> (experts) and <paramref name="groupScores"/> (groups) are scratch.
    /// </summary>
    public static void Select<T>(RouterSettings settings, ReadOnlySpan<T> scores, ReadOnlySpan<T> bias, Span<int> ids, Span<T> choice, Span<T> groupScores)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int e = settings.Experts;
        if (scores.Length != e) throw new ArgumentException($"routing: {scores.Length} scores for {e} experts");
        if (ids.Length != settings.TopK) throw new ArgumentException($"routing: ids must hold top-{settings.TopK}");
        choice = choice[..e];
        if (settings.UsesSelectionBias && !bias.IsEmpty) TensorPrimitives.Add(scores, bias, choice);
        else scores.CopyTo(choice);

        if (settings.Groups > 1)
        {
            int per = e / settings.Groups;
            groupScores = groupScores[..settings.Groups];
            for (int g = 0; g < settings.Groups; g++)
            {
                var group = choice.Slice(g * per, per);
                groupScores[g] = settings.Selection == ExpertSelection.NoAuxTopkCorrected ? SumOfTopTwo<T>(group) : TensorPrimitives.Max<T>(group);
            }
            Span<int> kept = stackalloc int[settings.TopKGroups];
            Selection.TopK<T>(groupScores, kept);
            for (int g = 0; g < settings.Groups; g++)
                if (kept.IndexOf(g) < 0) choice.Slice(g * per, per).Fill(T.NegativeInfinity);
        }
        Selection.TopK<T>(choice, ids);
    }

    /// <summary>Combine weights of the chosen <paramref name="ids"/>: unbiased scores, normalised when configured, scaled.</summary>
    public static void Weights<T>(RouterSettings settings, ReadOnlySpan<T> scores, ReadOnlySpan<int> ids, Span<T> weights)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        for (int j = 0; j < ids.Length; j++) { weights[j] = scores[ids[j]]; sum += weights[j]; }
        // HF adds 1e-20 so an all-zero pick cannot divide by zero.
        T alpha = T.CreateTruncating(settings.ScalingFactor);
        T factor = settings.NormalizeWeights ? alpha / (sum + T.CreateTruncating(1e-20)) : alpha;
        for (int j = 0; j < ids.Length; j++) weights[j] *= factor;
    }

    private static T SumOfTopTwo<T>(ReadOnlySpan<T> x) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T a = T.NegativeInfinity, b = T.NegativeInfinity;
        foreach (T v in x)
        {
            if (v > a) { b = a; a = v; }
            else if (v > b) b = v;
        }
        return a + b;
    }
}
