using SharpSeek.Model;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Ops;
using SharpSeek.Training.Precision;
using static SharpSeek.Training.Tests.GradientCheck;

namespace SharpSeek.Training.Tests;

/// <summary>Every op's backward pass against central finite differences in float64 (tolerance: <see cref="GradientCheck.Tolerance"/>).</summary>
public class OpGradientTests
{
    [Fact]
    public void Embedding()
    {
        using var table = Random("table", [7, 5], 1);
        int[] ids = [3, 0, 3, 6, 1, 3];
        Check(t => ProjectionLoss.Of(t, t.Embedding(t.Leaf(table), ids), 2), [table]);
    }

    [Fact]
    public void RmsNorm()
    {
        using var x = Random("x", [6, 9], 1);
        using var w = Random("w", [9], 2, 0.3, 1.0);
        Check(t => ProjectionLoss.Of(t, t.RmsNorm(t.Leaf(x), t.Leaf(w), 1e-6), 3), [x, w]);
    }

    [Fact]
    public void Linear()
    {
        using var x = Random("x", [5, 7], 1);
        using var w = Random("w", [4, 7], 2);
        Check(t => ProjectionLoss.Of(t, t.Linear(t.Leaf(x), t.Leaf(w), GemmPrecision.F32), 3), [x, w]);
    }

    [Fact]
    public void LinearOnRowViewOfAWeight()
    {
        // kv_a_proj is used as two row ranges; both views must route gradients into the one parameter.
        using var x = Random("x", [5, 7], 1);
        using var w = Random("w", [6, 7], 2);
        Check(t =>
        {
            var a = t.Linear(t.Leaf(x), t.Leaf(w, 0, 4), GemmPrecision.F32);
            var b = t.Linear(t.Leaf(x), t.Leaf(w, 4, 2), GemmPrecision.F32);
            return t.WeightedSum([(ProjectionLoss.Of(t, a, 3), 1.0), (ProjectionLoss.Of(t, b, 4), 0.5)]);
        }, [x, w]);
    }

    [Fact]
    public void AddConcatAndWeightedSum()
    {
        using var a = Random("a", [4, 3], 1);
        using var b = Random("b", [4, 3], 2);
        using var c = Random("c", [4, 2], 3);
        Check(t =>
        {
            var sum = t.Add(t.Leaf(a), t.Leaf(b));
            var cat = t.ConcatColumns(sum, t.Leaf(c));
            return t.WeightedSum([(ProjectionLoss.Of(t, cat, 4), 0.7), (ProjectionLoss.Of(t, t.Leaf(a), 5), -1.3)]);
        }, [a, b, c]);
    }

    [Fact]
    public void SwiGlu()
    {
        using var g = Random("gate", [5, 6], 1, 2.0);
        using var u = Random("up", [5, 6], 2);
        Check(t => ProjectionLoss.Of(t, t.SwiGlu(t.Leaf(g), t.Leaf(u)), 3), [g, u]);
    }

    [Fact]
    public void RopeWithYarnOnPartOfEveryHead()
    {
        var config = ModelPresets.TinyDeepSeekV3; // qk_rope_head_dim 4, YaRN factor 8
        var table = new RotaryTable<double>(config, 16);
        using var x = Random("x", [2 * 5, 3 * 7], 1);
        // 3 heads of stride 7, rotary slice at offset 2 of each; two sequences of 5.
        Check(t => ProjectionLoss.Of(t, t.Rope(t.Leaf(x), table, 5, 3, 7, 2), 3), [x]);
    }

    [Fact]
    public void MlaAttentionAcrossQueryBlocks()
    {
        // 70 positions cross the 64-row query block boundary; two sequences; two heads.
        var heads = new MlaHeads(2, 3, 2, 3);
        int seq = 70, n = 2 * seq;
        using var q = Random("q", [n, heads.Heads * heads.QkDim], 1);
        using var kv = Random("kv", [n, heads.KvWidth], 2);
        using var kpe = Random("k_pe", [n, heads.RopeDim], 3);
        Check(t => ProjectionLoss.Of(t, t.MlaAttention(t.Leaf(q), t.Leaf(kv), t.Leaf(kpe), heads, seq, 0.4), 4), [q, kv, kpe], samplesPerInput: 120);
    }

    [Theory]
    [InlineData(ExpertScoring.Sigmoid)]
    [InlineData(ExpertScoring.Softmax)]
    public void RouterScores(ExpertScoring scoring)
    {
        using var logits = Random("logits", [5, 6], 1);
        Check(t => ProjectionLoss.Of(t, t.RouterScores(t.Leaf(logits), scoring), 2), [logits]);
    }

    [Theory]
    [InlineData(true, ExpertSelection.NoAuxTopkCorrected, 4, 2)]
    [InlineData(false, ExpertSelection.Greedy, 1, 1)]
    [InlineData(true, ExpertSelection.GroupLimitedGreedy, 2, 1)]
    public void TopKRoutingWeights(bool normalize, ExpertSelection selection, int groups, int topKGroups)
    {
        var settings = new RouterSettings(8, 3, ExpertScoring.Sigmoid, selection, groups, topKGroups, normalize, 2.5);
        using var scores = Random("scores", [6, 8], 1, 0.2, 0.5);
        double[] bias = [0.1, -0.2, 0.05, 0, 0.3, -0.1, 0, 0.2];
        Check(t => ProjectionLoss.Of(t, t.TopKRouting(t.Leaf(scores), bias, settings, out _), 2), [scores]);
    }

    [Fact]
    public void DispatchExpertsAndCombine()
    {
        var settings = new RouterSettings(4, 2, ExpertScoring.Sigmoid, ExpertSelection.Greedy, 1, 1, true, 1.5);
        int tokens = 7, h = 5, f = 3;
        using var x = Random("x", [tokens, h], 1);
        using var scores = Random("scores", [tokens, 4], 2, 0.2, 0.5);
        var gate = Enumerable.Range(0, 4).Select(e => Random($"gate{e}", [f, h], 10 + e)).ToArray();
        var up = Enumerable.Range(0, 4).Select(e => Random($"up{e}", [f, h], 20 + e)).ToArray();
        var down = Enumerable.Range(0, 4).Select(e => Random($"down{e}", [h, f], 30 + e)).ToArray();
        try
        {
            Check(t =>
            {
                var w = t.TopKRouting(t.Leaf(scores), ReadOnlySpan<double>.Empty, settings, out var plan);
                var routed = t.DispatchToExperts(t.Leaf(x), plan);
                var outs = t.GroupedExperts(routed, plan, gate.Select(p => t.Leaf(p)).ToArray(), up.Select(p => t.Leaf(p)).ToArray(),
                    down.Select(p => t.Leaf(p)).ToArray(), GemmPrecision.F32);
                return ProjectionLoss.Of(t, t.CombineFromExperts(outs, w, plan), 3);
            }, [x, scores, .. gate, .. up, .. down]);
        }
        finally
        {
            foreach (var p in gate.Concat(up).Concat(down)) p.Dispose();
        }
    }

    [Theory]
    [InlineData(ExpertScoring.Sigmoid)]
    [InlineData(ExpertScoring.Softmax)]
    public void SequenceBalanceLoss(ExpertScoring scoring)
    {
        var settings = new RouterSettings(6, 2, scoring, ExpertSelection.Greedy, 1, 1, true, 1.0);
        using var logits = Random("logits", [2 * 5, 6], 1);
        Check(t =>
        {
            var s = t.RouterScores(t.Leaf(logits), scoring);
            t.TopKRouting(s, ReadOnlySpan<double>.Empty, settings, out var plan);
            return t.SequenceBalanceLoss(s, plan, 5, 0.01);
        }, [logits]);
    }

    [Fact]
    public void LinearCrossEntropyWithUnlabelledRows()
    {
        using var x = Random("x", [6, 5], 1);
        using var head = Random("head", [9, 5], 2);
        int[] targets = [3, -1, 8, 0, 3, -1];
        Check(t => t.LinearCrossEntropy(t.Leaf(x), t.Leaf(head), targets, GemmPrecision.F32), [x, head]);
    }

    [Fact]
    public void LinearCrossEntropyValueIsTheMeanNegativeLogLikelihood()
    {
        using var x = Random("x", [3, 4], 1);
        using var head = Random("head", [5, 4], 2);
        int[] targets = [2, -1, 4];
        using var tape = new Tape<double>(Pool);
        double loss = tape.LinearCrossEntropy(tape.Leaf(x), tape.Leaf(head), targets, GemmPrecision.F32).Scalar;
        double expect = 0;
        foreach (int row in new[] { 0, 2 })
        {
            var logits = Enumerable.Range(0, 5).Select(v => Enumerable.Range(0, 4).Sum(c => x.Values[row * 4 + c] * head.Values[v * 4 + c])).ToArray();
            double lse = Math.Log(logits.Sum(Math.Exp));
            expect += lse - logits[targets[row]];
        }
        Assert.Equal(expect / 2, loss, 12);
    }
}
