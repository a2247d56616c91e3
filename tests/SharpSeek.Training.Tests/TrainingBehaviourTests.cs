using SharpSeek.Training.Data;
using SharpSeek.Training.Precision;
using Xunit.Abstractions;

namespace SharpSeek.Training.Tests;

/// <summary>The trainer learns: it memorizes a batch, generalizes on the generated corpus, balances experts, and FP8 tracks f32.</summary>
public class TrainingBehaviourTests(CorpusFixture corpus, ITestOutputHelper output) : IClassFixture<CorpusFixture>
{
    private static readonly SharpSeek.Tensors.Threading.ComputePool Pool = GradientCheck.Pool;

    [Fact]
    public void TinyModelOverfitsAFixedBatch()
    {
        using var dir = new TempDirectory();
        // Exactly four samples of 32 positions: every step sees the same four sequences.
        var text = string.Concat(SyntheticCorpus.Documents(seed: 9, count: 3));
        var ids = new ByteLevelTokenizer().Encode(text)[..(4 * 32 + 1)];
        TokenShard.Write([System.Text.Encoding.UTF8.GetString(ids.Select(i => (byte)i).ToArray())], new ByteLevelTokenizer(), dir.Path, "fixed");
        using var data = PackedDataset.FromDirectory(dir.Path, "fixed", 32);
        Assert.Equal(4, data.Samples);
        var options = new TrainingOptions
        {
            SequenceLength = 32, BatchSequences = 4, Steps = 150, PeakLearningRate = 1e-2, MinLearningRate = 1e-3, WarmupSteps = 10,
            AdamW = new Optimization.AdamWSettings(WeightDecay: 0), BiasUpdateSpeed = 0.001, Seed = 3,
        };
        using var trainer = new Trainer(TestConfigs.Small, options, data, Pool);
        StepReport? last = null;
        double first = 0;
        for (int s = 0; s < options.Steps; s++)
        {
            last = trainer.TrainStep();
            if (s == 0) first = last.MainLoss;
            if (s % 25 == 0) output.WriteLine($"step {last.Step} loss {last.Loss:F4} main {last.MainLoss:F4} mtp {last.MtpLosses[0]:F4} {last.Seconds * 1000:F1} ms");
        }
        output.WriteLine($"final main {last!.MainLoss:F5} mtp {last.MtpLosses[0]:F5}");
        Assert.InRange(first, 5.0, 7.0); // ≈ ln 257 at initialization
        Assert.True(last.MainLoss < 0.05, $"main loss {last.MainLoss} did not approach zero");
        Assert.True(last.MtpLosses[0] < 0.1, $"MTP loss {last.MtpLosses[0]} did not approach zero");
    }

    [Fact]
    public void ValidationLossFallsOnTheGeneratedCorpus()
    {
        using var train = corpus.Train(64);
        using var val = corpus.Validation(64);
        var options = new TrainingOptions
        {
            SequenceLength = 64, BatchSequences = 8, Steps = 120, PeakLearningRate = 1e-2, MinLearningRate = 1e-3, WarmupSteps = 10, Seed = 4,
        };
        using var trainer = new Trainer(TestConfigs.Small, options, train, Pool);
        var valBatches = BatchLoader.Sequential(val, 8, 4);
        double before = trainer.Evaluate(valBatches).MainLoss;
        var curve = new List<double> { before };
        for (int s = 0; s < options.Steps; s++)
        {
            var r = trainer.TrainStep();
            if ((s + 1) % 40 == 0)
            {
                curve.Add(trainer.Evaluate(valBatches).MainLoss);
                output.WriteLine($"step {r.Step} train {r.MainLoss:F3} val {curve[^1]:F3} {r.TokensPerSecond:F0} tok/s");
            }
        }
        output.WriteLine($"validation curve: {string.Join(" ", curve.Select(c => c.ToString("F3")))}");
        for (int i = 1; i < curve.Count; i++) Assert.True(curve[i] < curve[i - 1], $"validation loss rose: {string.Join(", ", curve)}");
        Assert.True(curve[^1] < 0.5 * before, $"validation loss {curve[^1]:F3} did not fall below half its start {before:F3}");
    }

    /// <summary>Mean over the last <paramref name="window"/> steps and every MoE layer of max/mean expert load.</summary>
    private (double Imbalance, double FinalLoss) Run(TrainingOptions options, int window, string label)
    {
        using var train = corpus.Train(options.SequenceLength);
        using var trainer = new Trainer(TestConfigs.Small, options, train, Pool);
        var imbalance = new List<double>();
        var losses = new List<double>();
        for (int s = 0; s < options.Steps; s++)
        {
            var r = trainer.TrainStep();
            imbalance.Add(r.ExpertLoad.Values.Average(StepReport.MaxOverMean));
            losses.Add(r.MainLoss);
        }
        double im = imbalance.TakeLast(window).Average(), loss = losses.TakeLast(window).Average();
        output.WriteLine($"{label}: max/mean load over the last {window} steps {im:F3}, main loss {loss:F4}, first-step imbalance {imbalance[0]:F3}");
        return (im, loss);
    }

    [Fact]
    public void BiasBalancingEvensTheExpertLoad()
    {
        var options = new TrainingOptions
        {
            SequenceLength = 64, BatchSequences = 8, Steps = 100, PeakLearningRate = 1e-2, MinLearningRate = 1e-3, WarmupSteps = 10,
            BalanceAlpha = 0, Seed = 5,
        };
        var off = Run(options with { BiasUpdateSpeed = 0 }, 30, "bias off");
        var on = Run(options with { BiasUpdateSpeed = 0.01 }, 30, "bias on (γ = 0.01)");
        Assert.True(on.Imbalance < 0.85 * off.Imbalance, $"balancing on: max/mean {on.Imbalance:F3}, off: {off.Imbalance:F3}");
    }

    /// <summary>
    /// FP8 (and BF16) against f32 on the same config, data and seeds, judged by held-out loss at the end of training.
    /// A model this small is chaotic: the same run with another seed ends 4–12 % away, and any perturbation (BF16
    /// rounding included) moves a single run's final loss by about 1 %. So the learning rate is moderate (3e-3, cosine
    /// to 3e-4) and each precision's loss is the mean over three seeds, which brings run-to-run noise well under the
    /// 1 % asserted here, while a systematic FP8 penalty (a broken scale, a tile along the wrong axis: 5 % and more)
    /// would show. Measured: f32 0.4993, BF16 0.5011 (+0.35 %), FP8 0.5025 (+0.63 %). At this size FP8 still pays a
    /// little early in training (at lr 1e-3 it trails by 1.3–2.7 % after 300 steps; at 400 steps and 3e-3 by 0.02–1.7 %
    /// depending on the seed). The issue's 0.5 % is measured by the training benchmark (`--mode fidelity --model small`,
    /// 3.7M parameters, 600 steps, three seeds): FP8 lands +0.24, −0.08 and +0.08 % from f32 (docs/benchmarks.md).
    /// </summary>
    [Fact]
    public void Fp8TrainingTracksF32()
    {
        var options = new TrainingOptions
        {
            SequenceLength = 64, BatchSequences = 8, Steps = 300,
            PeakLearningRate = 3e-3, MinLearningRate = 3e-4, WarmupSteps = 10,
        };
        ulong[] seeds = [6, 7, 8];
        double Mean(TrainingPrecision precision) =>
            seeds.Average(seed => ValidationLossAfter(options with { Precision = precision, Seed = seed }, $"{precision} seed {seed}"));
        double f32 = Mean(TrainingPrecision.F32), bf16 = Mean(TrainingPrecision.BF16), fp8 = Mean(TrainingPrecision.FP8);
        double rel = Math.Abs(fp8 - f32) / f32;
        output.WriteLine($"mean over seeds: f32 {f32:F4}, bf16 {bf16:F4}, fp8 {fp8:F4}; fp8 vs f32 {rel:P3}, bf16 vs f32 {Math.Abs(bf16 - f32) / f32:P3}");
        Assert.True(rel < 0.01, $"FP8 mean validation loss {fp8:F4} is {rel:P2} away from f32's {f32:F4}");
    }

    private double ValidationLossAfter(TrainingOptions options, string label)
    {
        using var train = corpus.Train(options.SequenceLength);
        using var val = corpus.Validation(options.SequenceLength);
        using var trainer = new Trainer(TestConfigs.Small, options, train, Pool);
        for (int s = 0; s < options.Steps; s++) trainer.TrainStep();
        double loss = trainer.Evaluate(BatchLoader.Sequential(val, 8, 4)).MainLoss;
        output.WriteLine($"{label}: validation main loss {loss:F4} after {options.Steps} steps");
        return loss;
    }
}
