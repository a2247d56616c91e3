using SharpSeek.Checkpoints;
using SharpSeek.Model;

namespace SharpSeek.Model.Tests;

public class MoeRouterTests
{
    private static readonly ModelConfig Sixteen = ModelPresets.TinyDeepSeekV3 with
    {
        NRoutedExperts = 16, NumExpertsPerTok = 3, NGroup = 1, TopkGroup = 1,
        ScoringFunc = ExpertScoring.Sigmoid, TopkMethod = ExpertSelection.NoAuxTopkCorrected, NormTopkProb = true, RoutedScalingFactor = 2.5,
    };

    private static (int[] Ids, float[] Weights) Route(MoeRouter router, float[] logits)
    {
        var ids = new int[router.TopK];
        var weights = new float[router.TopK];
        router.Route(logits, ids, weights, new float[router.ScratchLength]);
        return (ids, weights);
    }

    private static float Sigmoid(float z) => (float)(1 / (1 + Math.Exp(-z)));
    private static float Logit(double p) => (float)Math.Log(p / (1 - p));

    [Fact]
    public void SelectionBiasChangesTheChoiceButNotTheWeights()
    {
        float[] logits = Enumerable.Range(0, 16).Select(e => (e - 8) * 0.3f).ToArray();
        var plain = Route(new MoeRouter(Sixteen, new float[16]), logits);
        Assert.Equal([15, 14, 13], plain.Ids);

        var bias = new float[16];
        bias[2] = 1f; // sigmoid(-1.8) + 1 beats every unbiased score
        var biased = Route(new MoeRouter(Sixteen, bias), logits);
        Assert.Equal([2, 15, 14], biased.Ids);

        // Weights come from the unbiased scores: expert 2 is picked first yet weighs least.
        float s2 = Sigmoid(logits[2]), s15 = Sigmoid(logits[15]), s14 = Sigmoid(logits[14]);
        float sum = s2 + s15 + s14;
        Assert.Equal(2.5f * s2 / sum, biased.Weights[0], 1e-6f);
        Assert.Equal(2.5f * s15 / sum, biased.Weights[1], 1e-6f);
        Assert.Equal(2.5f * s14 / sum, biased.Weights[2], 1e-6f);
        Assert.True(biased.Weights[0] < biased.Weights[1]);
    }

    /// <summary>
    /// Scores (sigmoid) in 4 groups of 4; keep 2 groups, pick 3:
    /// g0 [.99 .05 .05 .05]  g1 [.80 .10 .10 .10]  g2 [.79 .78 .02 .02]  g3 [.50 .03 .03 .03].
    /// noaux_tc (top-2 sums 1.04, .90, 1.57, .53) keeps g2, g0 → 0, 8, 9;
    /// group_limited_greedy (maxima .99, .80, .79, .50) keeps g0, g1 → 0, 4, 5;
    /// greedy ignores groups → 0, 4, 8.
    /// </summary>
    [Theory]
    [InlineData(ExpertSelection.NoAuxTopkCorrected, new[] { 0, 8, 9 })]
    [InlineData(ExpertSelection.GroupLimitedGreedy, new[] { 0, 4, 5 })]
    [InlineData(ExpertSelection.Greedy, new[] { 0, 4, 8 })]
    public void GroupLimitedRoutingMasksGroups(ExpertSelection method, int[] expected)
    {
        double[] scores = [.99, .05, .05, .05, .80, .10, .10, .10, .79, .78, .02, .02, .50, .03, .03, .03];
        var config = Sixteen with { NGroup = 4, TopkGroup = 2, TopkMethod = method };
        var router = new MoeRouter(config, new float[16]);
        var (ids, _) = Route(router, scores.Select(Logit).ToArray());
        Assert.Equal(expected, ids);
    }

    [Fact]
    public void GroupScoresUseTheBiasedValues()
    {
        // g1's top-2 sum overtakes g0's only through the bias; the weights still use the plain scores.
        double[] scores = [.90, .80, .10, .10, .60, .60, .10, .10, .10, .10, .10, .10, .10, .10, .10, .10];
        var config = Sixteen with { NGroup = 4, TopkGroup = 1, NumExpertsPerTok = 2 };
        var bias = new float[16];
        bias[4] = bias[5] = 0.3f;
        var (ids, weights) = Route(new MoeRouter(config, bias), scores.Select(Logit).ToArray());
        Assert.Equal([4, 5], ids);
        Assert.Equal(1.25f, weights[0], 1e-6f); // .6 / (.6 + .6) · 2.5
    }

    [Fact]
    public void NormalisationAndScaling()
    {
        float[] logits = Enumerable.Range(0, 16).Select(e => MathF.Sin(e * 1.7f) * 2).ToArray();
        var normalised = Route(new MoeRouter(Sixteen, new float[16]), logits);
        Assert.Equal(2.5f, normalised.Weights.Sum(), 1e-5f);

        var raw = Route(new MoeRouter(Sixteen with { NormTopkProb = false, RoutedScalingFactor = 16 }, new float[16]), logits);
        Assert.Equal(normalised.Ids, raw.Ids);
        for (int j = 0; j < 3; j++) Assert.Equal(16 * Sigmoid(logits[raw.Ids[j]]), raw.Weights[j], 1e-5f);
    }

    [Fact]
    public void SoftmaxScoringWeighsByProbability()
    {
        var config = ModelPresets.TinyDeepSeekV2Lite; // softmax, greedy, top-2 of 8, not normalised, scale 1
        float[] logits = [0.1f, 2f, -1f, 1.5f, 0.3f, 0f, -0.5f, 1f];
        var (ids, weights) = Route(new MoeRouter(config), logits);
        Assert.Equal([1, 3], ids);
        double z = logits.Sum(l => Math.Exp(l));
        Assert.Equal((float)(Math.Exp(2) / z), weights[0], 1e-6f);
        Assert.Equal((float)(Math.Exp(1.5) / z), weights[1], 1e-6f);
    }

    [Fact]
    public void NoAuxRoutingRequiresTheBias()
    {
        Assert.Throws<ArgumentException>(() => new MoeRouter(Sixteen));
    }

    /// <summary>On 2000 random tokens the router picks exactly the float64 reference's experts, with weights within 1e-6.</summary>
    [Theory]
    [InlineData("v3-absorbed")]
    [InlineData("v2-grouped-softmax")]
    [InlineData("v2lite-absorbed")]
    public void RouterMatchesTheFloat64Router(string name)
    {
        var (config, _, _) = ReferenceParityTests.Case(name);
        using var weights = RandomWeights.Create(config, seed: 4, new RandomWeightOptions { RouterBiasScale = 0.3f });
        int layer = config.FirstKDenseReplace;
        var bias = config.TopkMethod == ExpertSelection.NoAuxTopkCorrected
            ? weights[WeightNames.RouterBias(layer)].AsSpan<float>().ToArray()
            : [];
        var router = new MoeRouter(config, bias);
        var reference = new ReferenceModel(config, weights);
        var rng = new Random(1);
        int e = config.NRoutedExperts;
        for (int t = 0; t < 2000; t++)
        {
            float[] logits = Enumerable.Range(0, e).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
            var (ids, w) = Route(router, logits);
            var (refIds, refW) = reference.Route(layer, logits.Select(x => (double)x).ToArray());
            Assert.Equal(refIds, ids);
            for (int j = 0; j < ids.Length; j++) Assert.Equal(refW[j], w[j], 1e-6);
        }
    }
}
