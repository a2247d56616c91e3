using SharpSeek.Tensors;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Reasoning.Training;
using SharpSeek.Tensors.Threading;
using SharpSeek.Tokenizer.PreTokenization;
using SharpSeek.Tokenizer.Training;
using SharpSeek.Training;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Data;
using SharpSeek.Training.Ops;
using SharpSeek.Training.Precision;

namespace SharpSeek.Reasoning.Tests;

public class TrainingPathTests
{
    [Fact]
    public void Loss_mask_hides_unmasked_targets_for_every_head()
    {
        // One row of 5 tokens (T = 4): only tokens 3 and 4 are trained.
        var batch = new TokenBatch([10, 11, 12, 13, 14], 1, 4) { LossMask = [false, false, false, true, true] };
        Assert.Equal([-1, -1, 13, 14], batch.MainTargets());
        Assert.Equal([-1, 13, 14, -1], batch.MtpTargets(1));
        Assert.Equal([10, 11, 12, 13], batch.Inputs());
        Assert.Throws<ArgumentException>(() => new TokenBatch([1, 2, 3], 1, 2) { LossMask = [true] });
    }

    [Fact]
    public void Sft_examples_train_only_the_assistant_tokens()
    {
        var format = RecipeConfigs.SmallFormat("What is 12 + 30? ones tens so answer");
        var tokenizer = format.Tokenizer;
        var rng = new DeterministicRandom(2);
        var p = ProblemGenerator.Generate(TaskKind.Arithmetic, 1, ref rng);
        var example = format.Example(p, ReasoningChatFormat.TraceCompletion(p));
        int promptLength = format.Prompt(p, thinking: true).Length;
        Assert.All(example.LossMask[..promptLength], m => Assert.False(m));
        Assert.All(example.LossMask[promptLength..], m => Assert.True(m));
        string completion = tokenizer.Decode(example.Tokens[promptLength..]);
        Assert.Equal(ReasoningChatFormat.TraceCompletion(p), completion);
        Assert.EndsWith("<｜Assistant｜><think>\n", tokenizer.Decode(example.Tokens[..promptLength]));
        Assert.Equal(format.EndOfSentence, example.Tokens[^1]);

        var batch = PolicyModel.Pack([example, example with { Tokens = example.Tokens[..^3], LossMask = example.LossMask[..^3] }], format.Padding);
        var targets = batch.MainTargets();
        int t = batch.SequenceLength;
        for (int i = 0; i < t; i++)
        {
            Assert.Equal(i + 1 >= promptLength ? example.Tokens[i + 1] : -1, targets[i]);
            // The shorter row's padding is never a target.
            if (i + 1 >= example.Tokens.Length - 3) Assert.Equal(-1, targets[t + i]);
        }
    }

    [Fact]
    public void Masked_sft_step_ignores_prompt_tokens()
    {
        // Two batches that differ only in masked-out (prompt) tokens after the trained ones cannot differ in loss,
        // because attention is causal and the prompt tokens are not targets.
        var config = RecipeConfigs.Tiny(64);
        using var pool = new ComputePool(1);
        using var model = new PolicyModel(config, 3, pool);
        int[] a = [1, 5, 6, 7, 8, 9, 10, 11, 12];
        int[] b = [1, 5, 6, 7, 8, 9, 10, 40, 41];
        bool[] mask = [false, false, true, true, true, false, false, false, false];
        double la = model.EvaluateLoss(new TokenBatch(a, 1, 8) { LossMask = mask });
        double lb = model.EvaluateLoss(new TokenBatch(b, 1, 8) { LossMask = mask });
        Assert.Equal(la, lb, 6);
        double all = model.EvaluateLoss(new TokenBatch(b, 1, 8));
        Assert.NotEqual(la, all, 3);
    }

    [Fact]
    public unsafe void Token_log_prob_loss_reproduces_cross_entropy_gradients()
    {
        // With loss = −mean log p and coefficients −1/n, the policy-gradient op must give exactly the fused
        // cross-entropy's value and gradients.
        using var pool = new ComputePool(1);
        using var x = new Parameter<float>("x", [5, 8], ParameterRole.Matrix);
        using var w = new Parameter<float>("w", [11, 8], ParameterRole.Matrix);
        var rng = new DeterministicRandom(9);
        for (int i = 0; i < x.Length; i++) x.Values[i] = (float)rng.NextGaussian();
        for (int i = 0; i < w.Length; i++) w.Values[i] = (float)rng.NextGaussian() * 0.3f;
        int[] targets = [3, -1, 10, 0, 7];

        using var tape = new Tape<float>(pool);
        var ce = tape.LinearCrossEntropy(tape.Leaf(x), tape.Leaf(w), targets, GemmPrecision.F32);
        float ceValue = ce.Scalar;
        tape.Backward(ce, 1f);
        tape.Reset();
        float[] dxCe = x.Gradients.ToArray(), dwCe = w.Gradients.ToArray();
        x.ZeroGrad();
        w.ZeroGrad();

        var loss = tape.TokenLogProbLoss(tape.Leaf(x), tape.Leaf(w), targets, GemmPrecision.F32, logp =>
        {
            int n = targets.Count(t => t >= 0);
            double sum = 0;
            var c = new double[logp.Length];
            for (int i = 0; i < logp.Length; i++)
                if (targets[i] >= 0) { sum -= logp[i] / n; c[i] = -1.0 / n; }
            return new TokenObjective(sum, c);
        }, out var logProbs);
        Assert.True(double.IsNaN(logProbs[1]));
        Assert.Equal(ceValue, loss.Scalar, 4);
        tape.Backward(loss, 1f);
        tape.Reset();
        for (int i = 0; i < dxCe.Length; i++) Assert.Equal(dxCe[i], x.Gradients[i], 4);
        for (int i = 0; i < dwCe.Length; i++) Assert.Equal(dwCe[i], w.Gradients[i], 4);
    }

    [Fact]
    public void Policy_step_raises_the_probability_of_positive_advantage_tokens()
    {
        var config = RecipeConfigs.Tiny(64);
        using var pool = new ComputePool(1);
        using var model = new PolicyModel(config, 4, pool);
        var batch = new TokenBatch([1, 2, 3, 4, 5], 1, 4) { LossMask = [false, false, true, true, true] };
        var before = model.TokenLogProbs(batch);
        int[] owner = [-1, 0, 0, 0];
        for (int step = 0; step < 3; step++)
            model.PolicyStep(batch, lp => GrpoObjective.Evaluate(new GrpoSettings { KlBeta = 0 }, lp, before, before, owner, [1.0]).Objective, 1e-2);
        var after = model.TokenLogProbs(batch);
        for (int i = 1; i < 4; i++) Assert.True(after[i] > before[i], $"position {i}: {before[i]} → {after[i]}");
    }

    [Fact]
    public void A_fork_trains_on_exactly_as_the_original_and_a_snapshot_starts_adam_afresh()
    {
        // Every seed of the recipe's R1 line forks the pretrained model: SFT must continue pretraining's AdamW state.
        var config = RecipeConfigs.Tiny(64);
        using var pool = new ComputePool(1);
        using var model = new PolicyModel(config, 4, pool) { BiasUpdateSpeed = 2e-3 };
        var rng = new DeterministicRandom(9);
        var tokens = new int[33];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = 1 + rng.NextInt(60);
        var batch = new TokenBatch(tokens, 1, tokens.Length - 1);
        for (int step = 0; step < 5; step++) model.SupervisedStep([batch], 3e-3);

        using var fork = model.Fork();
        using var snapshot = model.Snapshot();
        Assert.Equal(model.Optimizer.StepCount, fork.Optimizer.StepCount);
        Assert.Equal(0, snapshot.Optimizer.StepCount);
        Assert.Equal(model.BiasUpdateSpeed, fork.BiasUpdateSpeed);
        foreach (var m in new[] { model, fork, snapshot }) m.SupervisedStep([batch], 3e-3);
        foreach (var (p, q) in model.Model.Parameters.Zip(fork.Model.Parameters))
            Assert.True(p.Values.SequenceEqual(q.Values), p.Name);
        Assert.Contains(model.Model.Parameters.Zip(snapshot.Model.Parameters), pq => !pq.First.Values.SequenceEqual(pq.Second.Values));
    }

    /// <summary>GRPO runs with the routing bias frozen (γ = 0); pretraining and SFT balance with it.</summary>
    [Theory]
    [InlineData(0.0)]
    [InlineData(1e-3)]
    public void Policy_steps_move_the_routing_bias_only_when_balancing_is_on(double gamma)
    {
        var config = RecipeConfigs.Tiny(64);
        using var pool = new ComputePool(1);
        using var model = new PolicyModel(config, 4, pool) { BiasUpdateSpeed = gamma };
        var batch = new TokenBatch([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 8) { LossMask = [false, false, true, true, true, true, true, true, true] };
        var before = model.TokenLogProbs(batch);
        int[] owner = [-1, 0, 0, 0, 0, 0, 0, 0];
        var biasBefore = model.Model.MoeLayers.Select(l => model.Model.SelectionBias(l)!.Values.ToArray()).ToList();
        Assert.NotEmpty(biasBefore);
        model.PolicyStep(batch, lp => GrpoObjective.Evaluate(new GrpoSettings { KlBeta = 0 }, lp, before, before, owner, [1.0]).Objective, 1e-3);
        var biasAfter = model.Model.MoeLayers.Select(l => model.Model.SelectionBias(l)!.Values.ToArray()).ToList();
        bool moved = biasBefore.Zip(biasAfter).Any(p => !p.First.SequenceEqual(p.Second));
        Assert.Equal(gamma > 0, moved);
    }

    [Fact]
    public void Inference_engine_matches_the_trained_models_log_probs()
    {
        // GRPO's ratio and the eval both assume the KV-cached inference engine computes the distribution the training
        // graph does; a mismatch (RoPE, MLA, routing bias) would make a well-trained model sample badly.
        var config = RecipeConfigs.Tiny(64);
        using var pool = new ComputePool(1);
        using var model = new PolicyModel(config, 7, pool);
        var rng = new DeterministicRandom(3);
        var tokens = new int[41];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = 1 + rng.NextInt(60);
        for (int step = 0; step < 20; step++) model.SupervisedStep([new TokenBatch(tokens, 1, tokens.Length - 1)], 3e-3);
        var mask = new bool[tokens.Length];
        Array.Fill(mask, true, 1, tokens.Length - 1);
        var logProbs = model.TokenLogProbs(new TokenBatch(tokens, 1, tokens.Length - 1) { LossMask = mask });

        using var weights = SharpSeek.Reasoning.Generation.InferenceWeights.From(model.Model);
        using var engine = SharpSeek.Model.LanguageModel.Create(config, weights,
            new SharpSeek.Model.ModelOptions { Backend = new SharpSeek.Tensors.Backend.CpuBackend(pool), MaxPositions = 64 });
        using var session = engine.CreateSession(64, 64);
        var logits = session.Prefill(tokens[..5]).ToArray();
        for (int i = 4; i < tokens.Length - 1; i++)
        {
            if (i > 4) logits = session.Decode(tokens[i]).ToArray();
            double max = logits.Max(), sum = logits.Sum(l => Math.Exp(l - max));
            double expected = logits[tokens[i + 1]] - max - Math.Log(sum);
            Assert.True(Math.Abs(expected - logProbs[i]) < 1e-3, $"position {i}: engine {expected} vs training {logProbs[i]}");
        }
    }
}

internal static class RecipeConfigs
{
    /// <summary>The R1 chat format over a 300-token BPE vocabulary trained on <paramref name="text"/>.</summary>
    public static ReasoningChatFormat SmallFormat(string text)
    {
        var trainer = new ByteLevelBpeTrainer(new BpeTrainerOptions { VocabularySize = 300, PreTokenizer = PreTokenizer.Qwen2, ChatTemplate = ReasoningChatFormat.JinjaTemplate });
        trainer.AddText(text);
        return new ReasoningChatFormat(trainer.Train().ToTokenizer());
    }

    public static SharpSeek.Model.ModelConfig Tiny(int vocabulary) => TrainingPresets.Tiny with { VocabSize = vocabulary, HiddenSize = 32, IntermediateSize = 64, MoeIntermediateSize = 16, QLoraRank = 16, KvLoraRank = 16, QkNopeHeadDim = 8, VHeadDim = 8 };
}
