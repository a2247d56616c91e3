using SharpSeek.Model;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Data;
using SharpSeek.Training.Ops;
using SharpSeek.Training.Optimization;
using SharpSeek.Training.Precision;

namespace SharpSeek.Reasoning.Training;

/// <summary>
/// A trainable DeepSeek-V3 model with its optimizer, for every stage of the R1 pipeline: plain next-token training
/// (pretraining), masked supervised fine-tuning, and policy-gradient steps from an arbitrary per-token objective.
/// Every optimizer step is <see cref="TrainingStep"/>'s (the one <see cref="Trainer"/> runs), aux-loss-free expert
/// balancing included. F32 throughout and deterministic for a fixed thread count.
/// </summary>
public sealed class PolicyModel : IDisposable
{
    private readonly Tape<float> _tape;
    private readonly TrainingStep _step;

    public PolicyModel(ModelConfig config, ulong seed, ComputePool pool, AdamWSettings? adamW = null)
    {
        Pool = pool;
        Model = new TrainableModel<float>(config);
        Model.Initialize(seed);
        _tape = new Tape<float>(pool, PrecisionPolicy.F32);
        _step = new TrainingStep(Model, _tape, pool, adamW ?? new AdamWSettings(WeightDecay: 0.01));
    }

    public TrainableModel<float> Model { get; }
    public AdamW Optimizer => _step.Optimizer;
    public ComputePool Pool { get; }
    public ModelConfig Config => Model.Config;
    public double ClipNorm { get; set; } = 1.0;
    /// <summary>γ of aux-loss-free balancing per optimizer step.</summary>
    public double BiasUpdateSpeed { get; set; } = 1e-3;
    public ObjectiveSettings Objective { get; set; } = new(MtpWeight: 0.3, BalanceAlpha: 1e-4);

    /// <summary>Rows padded to the longest: [rows, T + 1] tokens plus the mask of trained targets.</summary>
    public static TokenBatch Pack(IReadOnlyList<SupervisedExample> examples, int padding)
    {
        if (examples.Count == 0) throw new ArgumentException("nothing to pack");
        int width = examples.Max(e => e.Tokens.Length);
        if (width < 2) throw new ArgumentException("examples need at least two tokens");
        var tokens = new int[examples.Count * width];
        var mask = new bool[tokens.Length];
        Array.Fill(tokens, padding);
        for (int i = 0; i < examples.Count; i++)
        {
            examples[i].Tokens.CopyTo(tokens, i * width);
            examples[i].LossMask.CopyTo(mask, i * width);
        }
        return new TokenBatch(tokens, examples.Count, width - 1) { LossMask = mask };
    }

    /// <summary>One optimizer step of the V3 objective (main + MTP + balance) over <paramref name="microBatches"/>; returns the mean main loss.</summary>
    public double SupervisedStep(IReadOnlyList<TokenBatch> microBatches, double learningRate)
    {
        _step.Begin();
        double main = 0;
        foreach (var batch in microBatches)
        {
            var r = Model.Loss(_tape, batch, Objective);
            _step.Accumulate(r.Loss, 1f / microBatches.Count, "in supervised training");
            main += r.MainLoss / microBatches.Count;
        }
        _step.Finish(learningRate, ClipNorm, BiasUpdateSpeed);
        return main;
    }

    /// <summary>Mean masked main-head cross-entropy (no gradients).</summary>
    public double EvaluateLoss(TokenBatch batch)
    {
        _tape.GradientsEnabled = false;
        try
        {
            var r = Model.Loss(_tape, batch, Objective with { BalanceAlpha = 0 });
            _tape.Reset();
            return r.MainLoss;
        }
        finally { _tape.GradientsEnabled = true; }
    }

    /// <summary>log π(next token) at every position of <paramref name="batch"/> (NaN where the mask has no target).</summary>
    public double[] TokenLogProbs(TokenBatch batch)
    {
        _tape.GradientsEnabled = false;
        try
        {
            var hidden = Model.MainHidden(_tape, batch);
            var result = _tape.TokenLogProbs(hidden, _tape.Leaf(HeadParameter), batch.MainTargets(), GemmPrecision.F32);
            _tape.Reset();
            return result;
        }
        finally { _tape.GradientsEnabled = true; }
    }

    /// <summary>
    /// One optimizer step on a loss that depends on the policy through the log-probabilities of the batch's targets
    /// (<paramref name="objective"/> sees them and returns the loss and ∂loss/∂log p per position).
    /// </summary>
    public double PolicyStep(TokenBatch batch, Func<double[], TokenObjective> objective, double learningRate)
    {
        _step.Begin();
        var hidden = Model.MainHidden(_tape, batch);
        var loss = _tape.TokenLogProbLoss(hidden, _tape.Leaf(HeadParameter), batch.MainTargets(), GemmPrecision.F32, objective, out _);
        double value = _step.Accumulate(loss, 1f, "in a policy step");
        _step.Finish(learningRate, ClipNorm, BiasUpdateSpeed);
        return value;
    }

    private Parameter<float> HeadParameter => Model[Config.TieWordEmbeddings ? WeightNames.Embedding : WeightNames.OutputHead];

    /// <summary>A frozen copy of the current weights (the GRPO reference policy), with fresh optimizer state.</summary>
    public PolicyModel Snapshot()
    {
        var copy = new PolicyModel(Config, 0, Pool);
        copy.Model.CopyValuesFrom(Model);
        return copy;
    }

    public void Dispose()
    {
        _tape.Dispose();
        _step.Dispose();
        Optimizer.Dispose();
        Model.Dispose();
    }
}
