using SharpSeek.Tensors;
using SharpSeek.Model;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Data;
using static SharpSeek.Training.Tests.GradientCheck;

namespace SharpSeek.Training.Tests;

/// <summary>
/// The whole V3 objective (MLA with YaRN RoPE, dense and MoE blocks with group-limited biased routing and a shared
/// expert, MTP, sequence balance loss) differentiated end to end, against finite differences in float64; and the f32
/// training path against the f64 one.
/// </summary>
public class ModelGradientTests
{
    internal static TokenBatch Batch(ModelConfig c, int sequences, int seq, int seed)
    {
        var rng = new DeterministicRandom((ulong)seed);
        return new TokenBatch(Enumerable.Range(0, sequences * (seq + 1)).Select(_ => rng.NextInt(c.VocabSize)).ToArray(), sequences, seq);
    }

    /// <summary>Random norms and selection biases too, so no parameter sits at a special value.</summary>
    internal static void Perturb<T>(TrainableModel<T> model, int seed) where T : unmanaged, System.Numerics.IBinaryFloatingPointIeee754<T>
    {
        var rng = new DeterministicRandom((ulong)seed);
        foreach (var p in model.Parameters)
        {
            if (p.Shape.Length != 1) continue;
            var v = p.Values;
            for (int i = 0; i < v.Length; i++)
                v[i] = T.CreateTruncating(p.Role == ParameterRole.Buffer ? 0.05 * rng.NextGaussian() : 1 + 0.3 * rng.NextGaussian());
        }
    }

    public static TheoryData<string> Configs => new() { "v3", "v2-lite", "v3-mtp2" };

    internal static ModelConfig Config(string name) => name switch
    {
        "v3" => ModelPresets.TinyDeepSeekV3,
        "v2-lite" => ModelPresets.TinyDeepSeekV2Lite,
        _ => ModelPresets.TinyDeepSeekV3 with { NumHiddenLayers = 2, NumNextnPredictLayers = 2, NRoutedExperts = 8, NGroup = 2, TopkGroup = 1, NumExpertsPerTok = 2 },
    };

    [Theory]
    [MemberData(nameof(Configs))]
    public void WholeModelMatchesFiniteDifferences(string name)
    {
        var config = Config(name);
        using var model = new TrainableModel<double>(config);
        model.Initialize(5);
        Perturb(model, 6);
        var batch = Batch(config, 2, 6, 7);
        var objective = new ObjectiveSettings(MtpWeight: 0.3, BalanceAlpha: 0.01);
        // 4 seeded elements of every parameter tensor; experts that no token picked have no gradient and are skipped.
        var (_, checkedTensors, zero) = Check(t => model.Loss(t, batch, objective).Loss, model.Parameters, samplesPerInput: 4, allowZero: true);
        Assert.True(zero <= checkedTensors / 4, $"{zero} tensors had no gradient against {checkedTensors} checked");
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Float32PathMatchesFloat64(string name)
    {
        var config = Config(name);
        using var m64 = new TrainableModel<double>(config);
        m64.Initialize(11);
        Perturb(m64, 12);
        using var m32 = new TrainableModel<float>(config);
        m32.CopyValuesFrom(m64);
        m64.CopyValuesFrom(m32); // both now hold exactly the f32 values
        var batch = Batch(config, 2, 9, 13);
        var objective = new ObjectiveSettings(0.3, 0.01);

        using var t64 = new Tape<double>(Pool);
        var r64 = m64.Loss(t64, batch, objective);
        t64.Backward(r64.Loss, 1.0);
        using var t32 = new Tape<float>(Pool);
        var r32 = m32.Loss(t32, batch, objective);
        t32.Backward(r32.Loss, 1f);

        // f32 rounding through a few layers: ~1e-6 relative on the loss, ~1e-4 of each tensor's largest gradient.
        Assert.Equal(r64.Loss.Scalar, r32.Loss.Scalar, 4e-6 * Math.Abs(r64.Loss.Scalar));
        foreach (var p64 in m64.Parameters.Where(p => p.Trainable))
        {
            var g64 = p64.Gradients;
            var g32 = m32[p64.Name].Gradients;
            double scale = 0, err = 0;
            for (int i = 0; i < g64.Length; i++)
            {
                scale = Math.Max(scale, Math.Abs(g64[i]));
                err = Math.Max(err, Math.Abs(g64[i] - g32[i]));
            }
            Assert.True(err <= 1e-4 * scale + 1e-9, $"{p64.Name}: f32 gradient differs from f64 by {err:E2} (largest {scale:E2})");
        }
    }
}
