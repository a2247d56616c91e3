using SharpSeek.Model;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Checkpoints;
using SharpSeek.Training.Data;
using SharpSeek.Training.Precision;

namespace SharpSeek.Training.Tests;

/// <summary>Checkpoints: written atomically, resumable bit for bit, and loadable by the inference engine.</summary>
public class CheckpointTests(CorpusFixture corpus) : IClassFixture<CorpusFixture>
{
    private static TrainingOptions Options(TrainingPrecision precision) => new()
    {
        SequenceLength = 32, BatchSequences = 4, GradientAccumulation = 2, Steps = 12, PeakLearningRate = 5e-3, WarmupSteps = 3,
        BiasUpdateSpeed = 0.01, BalanceAlpha = 1e-3, Precision = precision, Seed = 21,
    };

    [Theory]
    [InlineData(TrainingPrecision.F32)]
    [InlineData(TrainingPrecision.FP8)]
    public void ResumedRunMatchesTheUninterruptedRunBitForBit(TrainingPrecision precision)
    {
        using var dir = new TempDirectory();
        using var data = corpus.Train(32);
        var options = Options(precision);

        var reference = new List<StepReport>();
        float[][] referenceWeights;
        using (var t = new Trainer(TestConfigs.Small, options, data, GradientCheck.Pool))
        {
            for (int s = 0; s < options.Steps; s++) reference.Add(t.TrainStep());
            referenceWeights = t.Model.Parameters.Select(p => p.Values.ToArray()).ToArray();
        }

        // The interrupted run: checkpoint at step 5, keep going, then "crash" at step 8 without saving.
        string checkpoint;
        using (var t = new Trainer(TestConfigs.Small, options, data, GradientCheck.Pool))
        {
            for (int s = 0; s < 5; s++) t.TrainStep();
            checkpoint = t.SaveCheckpoint(dir.Path);
            for (int s = 5; s < 8; s++) t.TrainStep();
        }
        Assert.Equal(checkpoint, TrainingCheckpoint.Latest(dir.Path));

        using var resumed = Trainer.Resume(checkpoint, data, GradientCheck.Pool);
        Assert.Equal(5, resumed.Step);
        for (int s = 5; s < options.Steps; s++)
        {
            var r = resumed.TrainStep();
            var e = reference[s];
            Assert.Equal(e.Step, r.Step);
            Assert.Equal(BitConverter.DoubleToInt64Bits(e.Loss), BitConverter.DoubleToInt64Bits(r.Loss));
            Assert.Equal(BitConverter.DoubleToInt64Bits(e.GradientNorm), BitConverter.DoubleToInt64Bits(r.GradientNorm));
            foreach (var (layer, load) in e.ExpertLoad) Assert.Equal(load, r.ExpertLoad[layer]);
        }
        var parameters = resumed.Model.Parameters;
        for (int i = 0; i < parameters.Count; i++)
            Assert.True(parameters[i].Values.SequenceEqual(referenceWeights[i]), $"{parameters[i].Name} differs after resuming");
    }

    [Fact]
    public void CheckpointLoadsIntoTheInferenceEngineWithTheSameLogits()
    {
        using var dir = new TempDirectory();
        using var data = corpus.Train(32);
        var config = TestConfigs.Small with
        {
            // YaRN on, so the RoPE tables of both engines are exercised with scaling.
            RopeScaling = new RopeScalingConfig { Type = "yarn", Factor = 4, OriginalMaxPositionEmbeddings = 16, BetaFast = 32, BetaSlow = 1, Mscale = 1, MscaleAllDim = 1 },
        };
        using var trainer = new Trainer(config, Options(TrainingPrecision.F32) with { Steps = 3 }, data, GradientCheck.Pool);
        for (int s = 0; s < 3; s++) trainer.TrainStep();
        string path = trainer.SaveCheckpoint(dir.Path);
        foreach (string f in new[] { TrainingCheckpoint.ConfigFile, TrainingCheckpoint.ModelFile, TrainingCheckpoint.OptimizerFile, TrainingCheckpoint.StateFile })
            Assert.True(File.Exists(Path.Combine(path, f)), $"{f} is missing");
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp", SearchOption.AllDirectories));

        // Our training forward on one sequence of 24 positions (25 tokens).
        var batch = BatchLoader.Sequential(data, 1, 1)[0];
        int T = batch.SequenceLength;
        batch = new TokenBatch(batch.Tokens[..25], 1, 24);
        using var tape = new Tape<float>(GradientCheck.Pool);
        var (main, mtp) = trainer.Model.Logits(tape, batch);

        var (loadedConfig, weights) = TrainingCheckpoint.LoadForInference(path);
        using (weights)
        {
            Assert.Equal(config, loadedConfig);
            using var model = LanguageModel.Create(loadedConfig, weights, new ModelOptions { MaxPositions = 64 });
            Assert.Equal(1, model.MtpDepth);
            using var session = model.CreateSession(64);
            int v = config.VocabSize, h = config.HiddenSize, n = 24;
            var logits = new float[n * v];
            var hidden = new float[n * h];
            session.Forward(batch.Tokens.AsSpan(0, n), logits, LogitsFor.AllPositions, hidden);
            var mtpLogits = new float[n * v];
            session.ForwardMtp(hidden, batch.Tokens.AsSpan(1, n), mtpLogits, LogitsFor.AllPositions);

            // Different kernels (absorbed MLA, another GEMM) in f32: agreement to ~1e-4 of the logit scale.
            double scale = main.Max(Math.Abs);
            Assert.True(MaxDiff(main, logits) < 2e-4 * scale, $"main logits differ by {MaxDiff(main, logits)} (scale {scale})");
            Assert.True(MaxDiff(mtp[0], mtpLogits) < 2e-4 * scale, $"MTP logits differ by {MaxDiff(mtp[0], mtpLogits)} (scale {scale})");
        }
    }

    private static double MaxDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    [Fact]
    public void SavingTheSameStepAgainReplacesItAndLatestFollows()
    {
        using var dir = new TempDirectory();
        using var data = corpus.Train(32);
        using var trainer = new Trainer(TestConfigs.Small, Options(TrainingPrecision.F32), data, GradientCheck.Pool);
        trainer.TrainStep();
        string first = trainer.SaveCheckpoint(dir.Path);
        string again = trainer.SaveCheckpoint(dir.Path);
        Assert.Equal(first, again);
        trainer.TrainStep();
        string second = trainer.SaveCheckpoint(dir.Path);
        Assert.Equal(second, TrainingCheckpoint.Latest(dir.Path));
        Assert.Equal(new[] { "checkpoint-000001", "checkpoint-000002" }, Directory.GetDirectories(dir.Path).Select(d => Path.GetFileName(d)).Order().ToArray());
    }

    [Fact]
    public void CheckpointsCarryTheRunFoldersTokenizer()
    {
        using var dir = new TempDirectory();
        using var data = corpus.Train(32);
        using var trainer = new Trainer(TestConfigs.Small, Options(TrainingPrecision.F32), data, GradientCheck.Pool);
        string without = trainer.SaveCheckpoint(dir.Path);
        Assert.False(File.Exists(Path.Combine(without, "tokenizer.json")));
        File.WriteAllText(Path.Combine(dir.Path, "tokenizer.json"), "{\"model\": 1}");
        File.WriteAllText(Path.Combine(dir.Path, "tokenizer_config.json"), "{\"bos_token\": null}");
        trainer.TrainStep();
        string with = trainer.SaveCheckpoint(dir.Path);
        Assert.Equal("{\"model\": 1}", File.ReadAllText(Path.Combine(with, "tokenizer.json")));
        Assert.Equal("{\"bos_token\": null}", File.ReadAllText(Path.Combine(with, "tokenizer_config.json")));
    }
}

/// <summary>A training checkpoint passes the HF reader's checks (every planned tensor present, right shapes) and converts to GGUF.</summary>
public class CheckpointConversionTests(CorpusFixture corpus) : IClassFixture<CorpusFixture>
{
    [Fact]
    public void CheckpointConvertsToGgufWithTheSameLogits()
    {
        using var dir = new TempDirectory();
        using var data = corpus.Train(32);
        var options = new TrainingOptions { SequenceLength = 32, BatchSequences = 4, Steps = 2, WarmupSteps = 1, Seed = 8 };
        using var trainer = new Trainer(TestConfigs.Small, options, data, GradientCheck.Pool);
        trainer.TrainStep();
        trainer.TrainStep();
        string path = trainer.SaveCheckpoint(dir.Path);
        int[] tokens = [256, 104, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100];

        float[] Logits(SharpSeek.Checkpoints.Checkpoint checkpoint)
        {
            using var model = checkpoint.CreateModel(new ModelOptions { MaxPositions = 64 });
            using var session = model.CreateSession(32);
            var logits = new float[tokens.Length * checkpoint.Config.VocabSize];
            session.Forward(tokens, logits, LogitsFor.AllPositions);
            return logits;
        }

        using var hf = SharpSeek.Checkpoints.HuggingFace.HuggingFaceCheckpointReader.Open(path);
        Assert.True(hf.Layout.IncludeMtp, "the HF reader did not find the MTP layer");
        var fromHf = Logits(hf);
        string gguf = Path.Combine(dir.Path, "model.gguf");
        SharpSeek.Checkpoints.Gguf.GgufCheckpointWriter.Write(hf, gguf, new SharpSeek.Checkpoints.Gguf.GgufWriteOptions { WeightType = SharpSeek.Tensors.DType.F32 });
        using var fromFile = SharpSeek.Checkpoints.Gguf.GgufCheckpointReader.Open(gguf);
        Assert.Equal("deepseek2", SharpSeek.Checkpoints.Gguf.GgufModelMetadata.ArchitectureOf(fromFile.Gguf!));
        var fromGguf = Logits(fromFile);
        double scale = fromHf.Max(Math.Abs), diff = fromHf.Zip(fromGguf, (x, y) => Math.Abs(x - y)).Max();
        Assert.True(diff < 1e-4 * scale, $"GGUF logits differ from the HF checkpoint's by {diff} (scale {scale})");
    }
}
