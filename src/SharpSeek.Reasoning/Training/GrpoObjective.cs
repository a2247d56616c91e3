using SharpSeek.Reasoning.Tasks;
using SharpSeek.Training.Ops;

namespace SharpSeek.Reasoning.Training;

/// <summary>How per-token losses are averaged.</summary>
public enum LossNormalization
{
    /// <summary>GRPO as published: mean over each sequence's tokens, then over sequences (short answers weigh more per token).</summary>
    Sequence,
    /// <summary>DAPO / Dr. GRPO / TRL's default: sum over all tokens divided by the total token count.</summary>
    Token,
}

/// <summary>GRPO's knobs.</summary>
public sealed record GrpoSettings
{
    /// <summary>ε of the clipped ratio (its lower side, 1 − ε, and its upper side unless <see cref="ClipEpsilonHigh"/> is set).</summary>
    public double ClipEpsilon { get; init; } = 0.2;
    /// <summary>
    /// DAPO's clip-higher: a wider upper side, 1 + ε_high, so tokens the policy rarely picks can still gain probability
    /// when they earn a positive advantage (a symmetric clip stalls them and entropy collapses). Null: ε on both sides.
    /// </summary>
    public double? ClipEpsilonHigh { get; init; }
    /// <summary>β of the KL penalty to the reference policy (0 = none, as in TRL's default).</summary>
    public double KlBeta { get; init; } = 0.001;
    public LossNormalization Normalization { get; init; } = LossNormalization.Token;
    /// <summary>Divide advantages by the group's standard deviation (GRPO) or only centre them (Dr. GRPO).</summary>
    public bool ScaleAdvantagesByStd { get; init; } = true;
    /// <summary>
    /// DAPO's overlong filtering: a response cut at the token budget (it never produced end-of-sentence) is left out of
    /// the loss, since its low reward says the budget ran out rather than that its reasoning was wrong. Its reward still
    /// counts in its group's baseline. Off by default: the bundled recipe's budget has room for every trace it teaches.
    /// </summary>
    public bool FilterOverlong { get; init; }

    public void Validate()
    {
        if (!(ClipEpsilon > 0 && ClipEpsilon < 1)) throw new ArgumentOutOfRangeException(nameof(ClipEpsilon), ClipEpsilon, "ε must be in (0, 1)");
        if (ClipEpsilonHigh is double high && !(high >= ClipEpsilon && high < 10))
            throw new ArgumentOutOfRangeException(nameof(ClipEpsilonHigh), high, "ε_high must be at least ε (and below 10)");
        if (!(KlBeta >= 0)) throw new ArgumentOutOfRangeException(nameof(KlBeta), KlBeta, "β must be non-negative");
    }
}

/// <summary>One token's share of the GRPO loss and what it says about the step.</summary>
public readonly record struct TokenTerm(double Loss, double Gradient, bool Clipped, double Kl, double Ratio);

/// <summary>Statistics of one evaluation of the objective.</summary>
public readonly record struct GrpoStatistics(double Loss, double MeanKl, double ClipFraction, int Tokens);

/// <summary>
/// What the objective divides by: the response tokens and the responses (with at least one token) of the whole batch.
/// Under data parallelism each rank evaluates the objective on its share of the responses but divides by the whole
/// batch's counts, so the ranks' losses and gradients add up to the one-process objective.
/// </summary>
public readonly record struct GrpoNormalizer(int Tokens, int Sequences)
{
    /// <summary>The counts of a batch whose row owners are <paramref name="sequenceOf"/> (−1 = no response token).</summary>
    public static GrpoNormalizer Of(ReadOnlySpan<int> sequenceOf)
    {
        var seen = new HashSet<int>();
        int tokens = 0;
        foreach (int s in sequenceOf)
            if (s >= 0)
            {
                tokens++;
                seen.Add(s);
            }
        return new GrpoNormalizer(tokens, seen.Count);
    }
}

/// <summary>
/// The GRPO objective (DeepSeekMath §4.1.2), as a loss to minimise over response tokens:
/// <code>
///   ρ_t = exp(log π_θ − log π_old)
///   ℓ_t = −min(ρ_t·A, clip(ρ_t, 1−ε, 1+ε)·A) + β·(π_ref/π_θ − log(π_ref/π_θ) − 1)
/// </code>
/// with A the sequence's group-relative advantage, averaged per <see cref="LossNormalization"/>. Everything depends on
/// the policy only through log π_θ of the chosen tokens, so the loss comes with ∂ℓ/∂log π_θ per token, which
/// <see cref="TokenLogProbOp"/> turns into gradients.
/// </summary>
public static class GrpoObjective
{
    /// <summary>
    /// The update example of one sampled response: prompt and response as one sequence with the response's tokens
    /// trained, or none of them for a response <paramref name="cut"/> at the token budget (it did not end itself, see
    /// <see cref="ProblemFormat.Judge"/>) under <see cref="GrpoSettings.FilterOverlong"/>.
    /// </summary>
    public static SupervisedExample ResponseExample(int[] prompt, int[] response, bool cut, GrpoSettings settings)
    {
        var tokens = new int[prompt.Length + response.Length];
        prompt.CopyTo(tokens, 0);
        response.CopyTo(tokens, prompt.Length);
        var mask = new bool[tokens.Length];
        if (!(settings.FilterOverlong && cut)) Array.Fill(mask, true, prompt.Length, response.Length);
        return new SupervisedExample(tokens, mask);
    }

    /// <summary>
    /// A_i = (r_i − mean(group)) / (std(group) + 1e-4) within each consecutive group of <paramref name="groupSize"/>
    /// (population std; without <paramref name="scaleByStd"/> only centred). A group whose rewards are all equal
    /// gets zero advantages: it carries no signal about which output is better.
    /// </summary>
    public static double[] GroupAdvantages(ReadOnlySpan<double> rewards, int groupSize, bool scaleByStd = true)
    {
        if (groupSize < 2) throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "a group needs at least two samples");
        if (rewards.Length % groupSize != 0) throw new ArgumentException($"{rewards.Length} rewards do not split into groups of {groupSize}");
        var advantages = new double[rewards.Length];
        for (int g0 = 0; g0 < rewards.Length; g0 += groupSize)
        {
            var group = rewards.Slice(g0, groupSize);
            double mean = 0;
            foreach (double r in group) mean += r;
            mean /= groupSize;
            double variance = 0;
            foreach (double r in group) variance += (r - mean) * (r - mean);
            double std = Math.Sqrt(variance / groupSize);
            for (int i = 0; i < groupSize; i++)
                advantages[g0 + i] = std < 1e-12 ? 0 : (group[i] - mean) / (scaleByStd ? std + 1e-4 : 1);
        }
        return advantages;
    }

    /// <summary>The k3 estimator of KL(π_θ ‖ π_ref) at one sampled token: e^(ref − θ) − (ref − θ) − 1 ≥ 0.</summary>
    public static double K3(double logPolicy, double logReference)
    {
        double d = logReference - logPolicy;
        return Math.Exp(d) - d - 1;
    }

    /// <summary>One token's loss and its derivative with respect to log π_θ (ratio clipped to [1 − ε, 1 + ε_high]; ε_high = ε when null).</summary>
    public static TokenTerm Token(double logPolicy, double logOld, double logReference, double advantage, double epsilon, double beta, double? epsilonHigh = null)
    {
        double ratio = Math.Exp(logPolicy - logOld);
        double clippedRatio = Math.Clamp(ratio, 1 - epsilon, 1 + (epsilonHigh ?? epsilon));
        double unclipped = ratio * advantage, clipped = clippedRatio * advantage;
        // min picks the clipped term only when it is strictly smaller; then the ratio is outside the trust region in
        // the direction the advantage pushes, and the token contributes no gradient.
        bool clipActive = clipped < unclipped;
        double surrogate = clipActive ? clipped : unclipped;
        double gradient = clipActive ? 0 : -unclipped; // ∂(−ρA)/∂logπ = −ρA
        double kl = 0;
        if (beta > 0)
        {
            kl = K3(logPolicy, logReference);
            gradient += beta * (1 - Math.Exp(logReference - logPolicy));
        }
        return new TokenTerm(-surrogate + beta * kl, gradient, clipActive, beta > 0 ? kl : K3(logPolicy, logReference), ratio);
    }

    /// <summary>
    /// The objective over a batch of rows: <paramref name="sequenceOf"/>[row] names the response a row belongs to (−1 =
    /// not a response token), <paramref name="advantages"/> holds each response's advantage. Returns the loss with
    /// per-row gradients for <see cref="TokenLogProbOp.TokenLogProbLoss"/>. <paramref name="normalizer"/> (default: these
    /// rows' own counts) is what the loss divides by: a data-parallel rank's share passes the whole batch's. The
    /// statistics are these rows' own (the KL and clip fraction over their tokens).
    /// </summary>
    public static (TokenObjective Objective, GrpoStatistics Statistics) Evaluate(GrpoSettings settings, ReadOnlySpan<double> logPolicy,
        ReadOnlySpan<double> logOld, ReadOnlySpan<double> logReference, ReadOnlySpan<int> sequenceOf, ReadOnlySpan<double> advantages,
        GrpoNormalizer? normalizer = null)
    {
        int rows = logPolicy.Length;
        if (logOld.Length != rows || logReference.Length != rows || sequenceOf.Length != rows)
            throw new ArgumentException("log-probabilities and row owners must have one entry per row");
        var tokensPerSequence = new int[advantages.Length];
        int total = 0;
        foreach (int s in sequenceOf)
            if (s >= 0)
            {
                tokensPerSequence[s]++;
                total++;
            }
        int sequences = tokensPerSequence.Count(n => n > 0);
        int divisorTokens = normalizer?.Tokens ?? total, divisorSequences = normalizer?.Sequences ?? sequences;
        var gradients = new double[rows];
        double loss = 0, kl = 0;
        int clippedCount = 0;
        for (int r = 0; r < rows; r++)
        {
            int s = sequenceOf[r];
            if (s < 0) continue;
            var term = Token(logPolicy[r], logOld[r], logReference[r], advantages[s], settings.ClipEpsilon, settings.KlBeta, settings.ClipEpsilonHigh);
            double weight = settings.Normalization == LossNormalization.Token ? 1.0 / divisorTokens : 1.0 / (divisorSequences * tokensPerSequence[s]);
            loss += weight * term.Loss;
            gradients[r] = weight * term.Gradient;
            kl += term.Kl;
            if (term.Clipped) clippedCount++;
        }
        var stats = new GrpoStatistics(loss, total > 0 ? kl / total : 0, total > 0 ? (double)clippedCount / total : 0, total);
        return (new TokenObjective(loss, gradients), stats);
    }
}
