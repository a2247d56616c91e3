using SharpSeek.Reasoning.Training;

namespace SharpSeek.Reasoning.Tests;

public class GrpoObjectiveTests
{
    [Fact]
    public void Group_advantages_match_hand_computation()
    {
        // Group [1, 0]: mean 0.5, population std 0.5 → ±0.5 / (0.5 + 1e-4).
        var a = GrpoObjective.GroupAdvantages([1, 0, 0, 1, 1, 1], 2);
        double expected = 0.5 / 0.5001;
        Assert.Equal(expected, a[0], 12);
        Assert.Equal(-expected, a[1], 12);
        Assert.Equal(-expected, a[2], 12);
        Assert.Equal(expected, a[3], 12);
        Assert.Equal(0, a[4]);   // all-equal group: no signal
        Assert.Equal(0, a[5]);

        var centred = GrpoObjective.GroupAdvantages([1.1, 0.1, 0.1, 0.1], 4, scaleByStd: false);
        Assert.Equal(0.75, centred[0], 12);
        Assert.Equal(-0.25, centred[1], 12);
    }

    [Fact]
    public void Group_advantages_reject_bad_groups()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => GrpoObjective.GroupAdvantages([1, 0], 1));
        Assert.Throws<ArgumentException>(() => GrpoObjective.GroupAdvantages([1, 0, 1], 2));
    }

    [Fact]
    public void K3_matches_hand_computation()
    {
        // π = 0.5, π_ref = 0.25: 0.5 − ln 0.5 − 1 = 0.193147…
        Assert.Equal(0.5 + Math.Log(2) - 1, GrpoObjective.K3(Math.Log(0.5), Math.Log(0.25)), 12);
        Assert.Equal(0, GrpoObjective.K3(-1.3, -1.3), 15);
        Assert.True(GrpoObjective.K3(-0.1, -3) > 0);
    }

    [Fact]
    public void Clipping_follows_the_min()
    {
        double lp = Math.Log(0.6), old = Math.Log(0.4); // ρ = 1.5
        // A > 0, ρ > 1 + ε: the clipped term 1.2·A is smaller → clipped, no gradient.
        var up = GrpoObjective.Token(lp, old, lp, 1, 0.2, 0);
        Assert.True(up.Clipped);
        Assert.Equal(-1.2, up.Loss, 12);
        Assert.Equal(0, up.Gradient);
        Assert.Equal(1.5, up.Ratio, 12);
        // A < 0, ρ > 1 + ε: min picks the unclipped −1.5 → gradient −ρA = 1.5.
        var down = GrpoObjective.Token(lp, old, lp, -1, 0.2, 0);
        Assert.False(down.Clipped);
        Assert.Equal(1.5, down.Loss, 12);
        Assert.Equal(1.5, down.Gradient, 12);
        // A > 0, ρ = 0.5 < 1 − ε: unclipped 0.5 < clipped 0.8 → unclipped, gradient −0.5.
        var low = GrpoObjective.Token(Math.Log(0.2), Math.Log(0.4), Math.Log(0.2), 1, 0.2, 0);
        Assert.False(low.Clipped);
        Assert.Equal(-0.5, low.Loss, 12);
        Assert.Equal(-0.5, low.Gradient, 12);
    }

    [Fact]
    public void Clip_higher_widens_only_the_upper_side()
    {
        double lp = Math.Log(0.6), old = Math.Log(0.4); // ρ = 1.5
        // With ε_high = 0.6 the ratio 1.5 is inside [0.8, 1.6]: a positive advantage still pushes it up.
        var up = GrpoObjective.Token(lp, old, lp, 1, 0.2, 0, epsilonHigh: 0.6);
        Assert.False(up.Clipped);
        Assert.Equal(-1.5, up.Loss, 12);
        Assert.Equal(-1.5, up.Gradient, 12);
        // Past it (ρ = 2 > 1.6) the clip holds again, at 1 + ε_high.
        var far = GrpoObjective.Token(Math.Log(0.8), old, Math.Log(0.8), 1, 0.2, 0, epsilonHigh: 0.6);
        Assert.True(far.Clipped);
        Assert.Equal(-1.6, far.Loss, 12);
        // The lower side is ε's: ρ = 0.5 with a negative advantage is clipped at 0.8 as without clip-higher.
        var low = GrpoObjective.Token(Math.Log(0.2), old, Math.Log(0.2), -1, 0.2, 0, epsilonHigh: 0.6);
        Assert.Equal(GrpoObjective.Token(Math.Log(0.2), old, Math.Log(0.2), -1, 0.2, 0), low);
        Assert.True(low.Clipped);
        // Settings check their sides, and Evaluate uses ε_high.
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrpoSettings { ClipEpsilon = 0.2, ClipEpsilonHigh = 0.1 }.Validate());
        var settings = new GrpoSettings { ClipEpsilon = 0.2, ClipEpsilonHigh = 0.6, KlBeta = 0 };
        var (_, stats) = GrpoObjective.Evaluate(settings, [lp], [old], [lp], [0], [1.0]);
        Assert.Equal(0, stats.ClipFraction);
        var (_, symmetric) = GrpoObjective.Evaluate(settings with { ClipEpsilonHigh = null }, [lp], [old], [lp], [0], [1.0]);
        Assert.Equal(1, symmetric.ClipFraction);
    }

    [Fact]
    public void Kl_penalty_adds_beta_k3_and_its_derivative()
    {
        double lp = Math.Log(0.5), reference = Math.Log(0.25);
        var t = GrpoObjective.Token(lp, lp, reference, 2, 0.2, 0.1);
        Assert.Equal(-2 + 0.1 * (0.5 + Math.Log(2) - 1), t.Loss, 12);
        // ∂/∂logπ: −ρA + β(1 − π_ref/π) = −2 + 0.1·0.5
        Assert.Equal(-1.95, t.Gradient, 12);
        // Numerical derivative agrees.
        double h = 1e-6;
        double numeric = (GrpoObjective.Token(lp + h, lp, reference, 2, 0.2, 0.1).Loss - GrpoObjective.Token(lp - h, lp, reference, 2, 0.2, 0.1).Loss) / (2 * h);
        Assert.Equal(t.Gradient, numeric, 6);
    }

    [Fact]
    public void Token_and_sequence_normalisation()
    {
        // Response 0 has one token (A = +1), response 1 three (A = −1); ratios are 1; row 4 is a prompt token.
        double[] lp = [-1, -1, -1, -1, -1];
        int[] owner = [0, 1, 1, 1, -1];
        double[] advantages = [1, -1];
        var token = GrpoObjective.Evaluate(new GrpoSettings { KlBeta = 0, Normalization = LossNormalization.Token }, lp, lp, lp, owner, advantages);
        Assert.Equal((-1 + 3) / 4.0, token.Objective.Loss, 12);
        Assert.Equal(-0.25, token.Objective.Coefficients[0], 12);
        Assert.Equal(0.25, token.Objective.Coefficients[1], 12);
        Assert.Equal(0, token.Objective.Coefficients[4]);
        Assert.Equal(4, token.Statistics.Tokens);

        var sequence = GrpoObjective.Evaluate(new GrpoSettings { KlBeta = 0, Normalization = LossNormalization.Sequence }, lp, lp, lp, owner, advantages);
        Assert.Equal(0.5 * (-1 + 1), sequence.Objective.Loss, 12);
        Assert.Equal(-0.5, sequence.Objective.Coefficients[0], 12);
        Assert.Equal(1 / 6.0, sequence.Objective.Coefficients[2], 12);
    }

    [Fact]
    public void Clip_fraction_and_kl_statistics()
    {
        double[] lp = [Math.Log(0.6), Math.Log(0.4)];
        double[] old = [Math.Log(0.4), Math.Log(0.4)];
        double[] reference = [Math.Log(0.3), Math.Log(0.4)];
        var (_, stats) = GrpoObjective.Evaluate(new GrpoSettings { KlBeta = 0.04 }, lp, old, reference, [0, 0], [1.0]);
        Assert.Equal(0.5, stats.ClipFraction, 12);
        Assert.Equal((GrpoObjective.K3(Math.Log(0.6), Math.Log(0.3)) + 0) / 2, stats.MeanKl, 12);
    }

    [Fact]
    public void Settings_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrpoSettings { ClipEpsilon = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrpoSettings { KlBeta = -1 }.Validate());
        new GrpoSettings { KlBeta = 0 }.Validate();
    }

    [Fact]
    public void Overlong_filtering_trains_no_token_of_a_response_cut_at_the_budget()
    {
        const int eos = 9;
        int[] prompt = [1, 2, 3], finished = [4, 5, eos], cut = [4, 5, 6];
        var off = new GrpoSettings();
        var on = off with { FilterOverlong = true };
        foreach (var settings in new[] { off, on })
        {
            var example = GrpoObjective.ResponseExample(prompt, finished, cut: false, settings);
            Assert.Equal([1, 2, 3, 4, 5, eos], example.Tokens);
            Assert.Equal([false, false, false, true, true, true], example.LossMask);
        }
        Assert.Equal([false, false, false, true, true, true], GrpoObjective.ResponseExample(prompt, cut, cut: true, off).LossMask);
        var filtered = GrpoObjective.ResponseExample(prompt, cut, cut: true, on);
        Assert.Equal([1, 2, 3, 4, 5, 6], filtered.Tokens);
        Assert.All(filtered.LossMask, Assert.False);
    }
}
