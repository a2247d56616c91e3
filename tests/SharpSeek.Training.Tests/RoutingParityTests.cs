using SharpSeek.Model;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Ops;

namespace SharpSeek.Training.Tests;

/// <summary>
/// Inference's router (float, from logits) and training's routing op (double, on the tape) choose the same experts with
/// the same weights, on configs where group limiting really masks (several groups, topk_group &lt; n_group), and both
/// agree with a brute-force float64 reference written here from the rules.
/// </summary>
public sealed unsafe class RoutingParityTests
{
    public static TheoryData<ExpertScoring, ExpertSelection, int, int, int, bool> Configs => new()
    {
        { ExpertScoring.Sigmoid, ExpertSelection.NoAuxTopkCorrected, 8, 3, 4, true },
        { ExpertScoring.Sigmoid, ExpertSelection.NoAuxTopkCorrected, 4, 1, 2, true },
        { ExpertScoring.Softmax, ExpertSelection.GroupLimitedGreedy, 4, 2, 3, false },
        { ExpertScoring.Softmax, ExpertSelection.Greedy, 4, 2, 6, false },
    };

    [Theory]
    [MemberData(nameof(Configs))]
    public void Inference_training_and_a_reference_route_alike(ExpertScoring scoring, ExpertSelection selection, int groups, int topKGroups, int topK, bool normalize)
    {
        const int experts = 32, tokens = 64;
        var config = new ModelConfig
        {
            ModelType = "deepseek_v3", NRoutedExperts = experts, NumExpertsPerTok = topK, ScoringFunc = scoring, TopkMethod = selection,
            NGroup = groups, TopkGroup = topKGroups, NormTopkProb = normalize, RoutedScalingFactor = 2.5,
        };
        var rng = new Random(7);
        float[] bias = Enumerable.Range(0, experts).Select(_ => (float)(rng.NextDouble() * 0.4 - 0.2)).ToArray();
        float[] logits = Enumerable.Range(0, tokens * experts).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();

        var router = new MoeRouter(config, selection == ExpertSelection.NoAuxTopkCorrected ? bias : default);
        var ids = new int[topK];
        var weights = new float[topK];
        var scratch = new float[router.ScratchLength];

        using var tape = new Tape<double>(GradientCheck.Pool);
        using var logitParameter = new Parameter<double>("logits", [tokens, experts], ParameterRole.Matrix);
        for (int i = 0; i < logits.Length; i++) logitParameter.Values[i] = logits[i];
        var trainingWeights = tape.TopKRouting(tape.RouterScores(tape.Leaf(logitParameter), scoring),
            bias.Select(b => (double)b).ToArray(), RouterSettings.From(config), out var plan);

        for (int t = 0; t < tokens; t++)
        {
            var row = logits.AsSpan(t * experts, experts);
            router.Route(row, ids, weights, scratch);
            var (refIds, refWeights) = Reference(row, bias, scoring, selection, groups, topKGroups, topK, normalize, 2.5);
            Assert.Equal(refIds, ids);
            Assert.Equal(refIds, plan.ExpertOf.AsSpan(t * topK, topK).ToArray());
            for (int j = 0; j < topK; j++)
            {
                Assert.Equal(refWeights[j], weights[j], 1e-5);
                Assert.Equal(refWeights[j], trainingWeights.Value[(long)t * topK + j], 1e-12);
            }
        }
    }

    // The rules, spelled out with sorts over float64: score, bias for selection only, group score (sum of the top two
    // for noaux_tc, the best for group_limited_greedy), keep the best groups, take the best experts among them.
    private static (int[] Ids, double[] Weights) Reference(ReadOnlySpan<float> logits, float[] bias, ExpertScoring scoring, ExpertSelection selection,
        int groups, int topKGroups, int topK, bool normalize, double scale)
    {
        int e = logits.Length;
        double[] s = new double[e];
        if (scoring == ExpertScoring.Sigmoid) for (int i = 0; i < e; i++) s[i] = 1 / (1 + Math.Exp(-logits[i]));
        else
        {
            double max = logits.ToArray().Max(), sum = 0;
            for (int i = 0; i < e; i++) sum += s[i] = Math.Exp(logits[i] - max);
            for (int i = 0; i < e; i++) s[i] /= sum;
        }
        double[] choice = s.Select((v, i) => selection == ExpertSelection.NoAuxTopkCorrected ? v + bias[i] : v).ToArray();
        var allowed = Enumerable.Range(0, e).ToHashSet();
        if (selection != ExpertSelection.Greedy && groups > 1)
        {
            int per = e / groups;
            var groupScore = Enumerable.Range(0, groups).Select(g =>
            {
                var members = choice.Skip(g * per).Take(per).OrderByDescending(v => v).ToArray();
                return selection == ExpertSelection.NoAuxTopkCorrected ? members[0] + members[1] : members[0];
            }).ToArray();
            var kept = Enumerable.Range(0, groups).OrderByDescending(g => groupScore[g]).ThenBy(g => g).Take(topKGroups).ToHashSet();
            allowed = Enumerable.Range(0, e).Where(i => kept.Contains(i / per)).ToHashSet();
        }
        int[] ids = allowed.OrderByDescending(i => choice[i]).ThenBy(i => i).Take(topK).ToArray();
        double total = ids.Sum(i => s[i]);
        double[] w = ids.Select(i => (normalize ? s[i] / (total + 1e-20) : s[i]) * scale).ToArray();
        return (ids, w);
    }
}
