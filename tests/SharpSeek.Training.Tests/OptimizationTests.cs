using SharpSeek.Tensors;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Optimization;

namespace SharpSeek.Training.Tests;

/// <summary>AdamW against its formula in float64, clipping, and the learning-rate schedules.</summary>
public class OptimizationTests
{
    [Fact]
    public void AdamWFollowsTheDecoupledUpdateFormula()
    {
        var settings = new AdamWSettings(Beta1: 0.9, Beta2: 0.95, Epsilon: 1e-8, WeightDecay: 0.1);
        using var matrix = new Parameter<float>("w", [3, 37], ParameterRole.Matrix);  // 111 elements: vector body and scalar tail
        using var norm = new Parameter<float>("n", [5], ParameterRole.NoDecay);
        using var buffer = new Parameter<float>("b", [4], ParameterRole.Buffer);
        var rng = new DeterministicRandom(1);
        foreach (var p in new[] { matrix, norm }) for (int i = 0; i < p.Length; i++) p.Values[i] = (float)rng.NextGaussian();
        var w0 = matrix.Values.ToArray().Select(x => (double)x).ToArray();
        var n0 = norm.Values.ToArray().Select(x => (double)x).ToArray();
        using var adam = new AdamW([matrix, norm, buffer], settings);
        Assert.Equal(2, adam.Parameters.Count());

        var mW = new double[w0.Length]; var vW = new double[w0.Length];
        var mN = new double[n0.Length]; var vN = new double[n0.Length];
        for (int t = 1; t <= 3; t++)
        {
            double lr = 0.01 * t;
            for (int i = 0; i < matrix.Length; i++) matrix.Gradients[i] = (float)rng.NextGaussian();
            for (int i = 0; i < norm.Length; i++) norm.Gradients[i] = (float)rng.NextGaussian();
            Reference(w0, matrix.Gradients.ToArray(), mW, vW, t, lr, settings, decay: true);
            Reference(n0, norm.Gradients.ToArray(), mN, vN, t, lr, settings, decay: false);
            adam.Update(lr, GradientCheck.Pool);
        }
        for (int i = 0; i < w0.Length; i++) Assert.Equal(w0[i], matrix.Values[i], 1e-5);
        for (int i = 0; i < n0.Length; i++) Assert.Equal(n0[i], norm.Values[i], 1e-5);
        Assert.Equal(3, adam.StepCount);
    }

    private static void Reference(double[] w, float[] g, double[] m, double[] v, int t, double lr, AdamWSettings s, bool decay)
    {
        for (int i = 0; i < w.Length; i++)
        {
            if (decay) w[i] *= 1 - lr * s.WeightDecay;
            m[i] = s.Beta1 * m[i] + (1 - s.Beta1) * g[i];
            v[i] = s.Beta2 * v[i] + (1 - s.Beta2) * g[i] * g[i];
            double mh = m[i] / (1 - Math.Pow(s.Beta1, t)), vh = v[i] / (1 - Math.Pow(s.Beta2, t));
            w[i] -= lr * mh / (Math.Sqrt(vh) + s.Epsilon);
        }
    }

    [Fact]
    public void ClippingScalesToTheMaximumNormOnlyWhenAbove()
    {
        using var a = new Parameter<float>("a", [2, 2], ParameterRole.Matrix);
        using var b = new Parameter<float>("b", [1], ParameterRole.NoDecay);
        a.Gradients.Fill(3); // ‖a‖ = 6
        b.Gradients[0] = 8;  // total 10
        Assert.Equal(10, GradientClipping.ClipByGlobalNorm([a, b], 20, GradientCheck.Pool), 6);
        Assert.Equal(3f, a.Gradients[0]);
        Assert.Equal(10, GradientClipping.ClipByGlobalNorm([a, b], 1, GradientCheck.Pool), 6);
        Assert.Equal(1, GradientClipping.GlobalNorm([a, b], GradientCheck.Pool), 5);
        Assert.Equal(0.8f, b.Gradients[0], 5);
    }

    [Fact]
    public void WarmupThenCosineReachesTheMinimumAtTheLastStep()
    {
        var s = new LearningRateSchedule(ScheduleKind.WarmupCosine, 1e-3, 1e-4, 10, 111); // decay over steps 10..110
        Assert.Equal(1e-4, s.At(0), 12);
        Assert.Equal(1e-3, s.At(9), 12);
        Assert.Equal(1e-3, s.At(10), 12);
        Assert.Equal(0.55e-3, s.At(60), 6); // halfway through the cosine
        Assert.Equal(1e-4, s.At(110), 12);
        for (long t = 10; t < 110; t++) Assert.True(s.At(t + 1) <= s.At(t));
    }

    [Fact]
    public void WarmupStableDecayHoldsThePeakThenDecays()
    {
        var s = new LearningRateSchedule(ScheduleKind.WarmupStableDecay, 2e-3, 2e-4, 5, 100, DecayFraction: 0.2);
        Assert.Equal(2e-3 / 5, s.At(0), 12);
        for (long t = 5; t <= 80; t++) Assert.Equal(2e-3, s.At(t), 12);
        Assert.True(s.At(81) < 2e-3);
        Assert.Equal(2e-4, s.At(99), 12);
    }
}
