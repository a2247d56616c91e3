using SharpSeek.Tensors;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Tests;

/// <summary>
/// Compares the tape's gradients with central finite differences in float64:
/// g_fd = (L(θ + ε) − L(θ − ε)) / 2ε per checked element. With ε = 1e-5 the truncation error is O(ε²·L''') ≈ 1e-10
/// and the rounding error O(1e-16·|L| / ε) ≈ 1e-11, so a correct gradient agrees to ~1e-8 relative; the stated
/// tolerance (1e-6 of the largest gradient component of that tensor) leaves margin, while any wrong term (a missing
/// transpose, a dropped path) shows up at 1e-2 or worse.
/// </summary>
internal static class GradientCheck
{
    public const double Epsilon = 1e-5;
    public const double Tolerance = 1e-6;

    public static ComputePool Pool { get; } = new(2);

    /// <summary>
    /// Checks d loss / d input for every element of each input (or <paramref name="samplesPerInput"/> seeded elements),
    /// returning the worst relative error.
    /// </summary>
    /// <param name="allowZero">An unrouted expert legitimately has no gradient: count such tensors (returned) instead of failing.</param>
    public static (double WorstRelativeError, int Checked, int AllZero) Check(Func<Tape<double>, Node<double>> loss, IReadOnlyList<Parameter<double>> inputs,
        int samplesPerInput = int.MaxValue, double tolerance = Tolerance, int seed = 1, bool allowZero = false)
    {
        using var tape = new Tape<double>(Pool);
        foreach (var p in inputs) p.ZeroGrad();
        var l = loss(tape);
        tape.Backward(l, 1.0);
        tape.Reset();

        double worst = 0;
        int checkedTensors = 0, zero = 0;
        var rng = new DeterministicRandom((ulong)seed);
        foreach (var p in inputs)
        {
            if (!p.Trainable) continue;
            var analytic = p.Gradients.ToArray();
            int n = (int)p.Length;
            var indices = samplesPerInput >= n ? Enumerable.Range(0, n).ToArray() : Enumerable.Range(0, samplesPerInput).Select(_ => rng.NextInt(n)).ToArray();
            var numeric = new double[indices.Length];
            for (int s = 0; s < indices.Length; s++)
            {
                int i = indices[s];
                double v = p.Values[i];
                p.Values[i] = v + Epsilon;
                double plus = Evaluate(tape, loss);
                p.Values[i] = v - Epsilon;
                double minus = Evaluate(tape, loss);
                p.Values[i] = v;
                numeric[s] = (plus - minus) / (2 * Epsilon);
            }
            double scale = Math.Max(numeric.Max(Math.Abs), analytic.Max(Math.Abs));
            if (allowZero && scale <= 1e-12)
            {
                zero++;
                continue;
            }
            checkedTensors++;
            Assert.True(scale > 1e-9, $"{p.Name}: every gradient is zero, so the check would prove nothing");
            double err = 0;
            for (int s = 0; s < indices.Length; s++) err = Math.Max(err, Math.Abs(analytic[indices[s]] - numeric[s]));
            double rel = err / scale;
            Assert.True(rel <= tolerance, $"{p.Name}: analytic vs finite-difference gradient differ by {rel:E2} of the largest component {scale:E2} (tolerance {tolerance:E1})");
            worst = Math.Max(worst, rel);
        }
        return (worst, checkedTensors, zero);
    }

    private static double Evaluate(Tape<double> tape, Func<Tape<double>, Node<double>> loss)
    {
        tape.GradientsEnabled = false;
        try
        {
            double v = loss(tape).Scalar;
            tape.Reset();
            return v;
        }
        finally { tape.GradientsEnabled = true; }
    }

    public static Parameter<double> Random(string name, int[] shape, int seed, double scale = 1.0, double offset = 0.0)
    {
        var p = new Parameter<double>(name, shape, ParameterRole.Matrix);
        var rng = new DeterministicRandom((ulong)seed * 7919 + 17);
        var v = p.Values;
        for (int i = 0; i < v.Length; i++) v[i] = offset + scale * rng.NextGaussian();
        return p;
    }
}

/// <summary>A test-only op: L = Σ r ⊙ y for a fixed random r, turning any output into a scalar whose gradient is r.</summary>
internal sealed unsafe class ProjectionLoss(Node<double> y, Node<double> loss, double[] r) : TapeStep
{
    public static Node<double> Of(Tape<double> tape, Node<double> y, int seed)
    {
        var rng = new DeterministicRandom((ulong)seed + 99);
        var r = new double[y.Length];
        for (int i = 0; i < r.Length; i++) r[i] = rng.NextGaussian();
        var loss = tape.NewNode(1, 1, y.RequiresGrad);
        double s = 0;
        for (int i = 0; i < r.Length; i++) s += r[i] * y.Value[i];
        loss.Value[0] = s;
        if (loss.RequiresGrad) tape.Record(new ProjectionLoss(y, loss, r), loss);
        return loss;
    }

    public override void Backward()
    {
        double g = loss.Grad[0];
        double* dy = y.Grad;
        for (int i = 0; i < r.Length; i++) dy[i] += g * r[i];
    }
}
