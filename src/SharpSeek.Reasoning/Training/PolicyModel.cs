using SharpSeek.Distributed;
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

    /// <param name="world">The data-parallel job this model trains in (one process when null): every rank holds the
    /// same weights, trains on its share of each batch and takes the same update.</param>
    public PolicyModel(ModelConfig config, ulong seed, ComputePool pool, AdamWSettings? adamW = null, ICommunicator? world = null)
    {
        Pool = pool;
        World = world ?? SingleProcess.Instance;
        Model = new TrainableModel<float>(config);
        Model.Initialize(seed);
        _tape = new Tape<float>(pool, PrecisionPolicy.F32);
        _step = new TrainingStep(Model, _tape, pool, adamW ?? new AdamWSettings(WeightDecay: 0.01), World);
    }

    /// <summary>The processes of the job (one without mpirun); every training call is collective over them.</summary>
    public ICommunicator World { get; }

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
    /// <remarks>Collective under data parallelism: every rank passes the same (whole) micro-batches, see <see cref="SupervisedGradients"/>.</remarks>
    public double SupervisedStep(IReadOnlyList<TokenBatch> microBatches, double learningRate)
    {
        double main = SupervisedGradients(microBatches);
        _step.Finish(learningRate, ClipNorm, BiasUpdateSpeed);
        return main;
    }

    /// <summary>
    /// The gradient half of <see cref="SupervisedStep"/>: zeroes the gradients, back-propagates every micro-batch and
    /// leaves the step's gradient in the parameters (no update); returns the mean main loss.
    /// Under data parallelism every rank passes the same whole micro-batches and trains on its rows
    /// (<see cref="RankShare"/>) with each term weighted by its share of the batch's trained tokens
    /// (<see cref="ObjectiveShares"/>), so after the exchange every rank holds the one-process gradient (up to f32
    /// summation order) however the loss mask falls; the returned loss is the whole batch's too.
    /// </summary>
    public double SupervisedGradients(IReadOnlyList<TokenBatch> microBatches)
    {
        _step.Begin();
        double main = 0;
        int ranks = World.Size;
        for (int i = 0; i < microBatches.Count; i++)
        {
            var batch = microBatches[i];
            var (first, count) = RankShare.Of(batch.Sequences, World.Rank, ranks);
            if (count == 0) continue; // fewer rows than ranks: this rank adds nothing to this micro-batch but still exchanges
            var objective = ranks == 1 ? Objective : Objective with { Shares = ObjectiveShares.For(batch, first, count, ranks, Config.NumNextnPredictLayers) };
            var r = Model.Loss(_tape, batch.Slice(first, count), objective);
            _step.Accumulate(r.Loss, 1f / microBatches.Count, "in supervised training", lastOfStep: i == microBatches.Count - 1);
            main += (objective.Shares is { } shares ? r.MainLoss * shares.Main : r.MainLoss) / microBatches.Count;
        }
        _step.SynchronizeGradients();
        if (ranks > 1)
        {
            // Σ_r share_r·loss_r / N = Σ_r (tokens_r / tokens)·loss_r: the whole batch's mean.
            double[] sum = [main];
            World.AllReduceSum(sum);
            main = sum[0] / ranks;
        }
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
    /// <remarks>Collective under data parallelism, see <see cref="PolicyGradients"/>.</remarks>
    public double PolicyStep(TokenBatch? batch, Func<double[], TokenObjective> objective, double learningRate)
    {
        double value = PolicyGradients(batch, objective);
        _step.Finish(learningRate, ClipNorm, BiasUpdateSpeed);
        return value;
    }

    /// <summary>
    /// The gradient half of <see cref="PolicyStep"/> (no update); returns this rank's loss.
    /// Under data parallelism each rank passes its own share of the batch (null when it has none) and an objective
    /// normalised by the whole batch (its token or sequence counts, not the share's), so that the ranks' losses add up
    /// to the whole batch's; each rank's gradient is seeded with 1 (not 1/N) and the exchange sums them, giving the
    /// one-process gradient.
    /// </summary>
    public double PolicyGradients(TokenBatch? batch, Func<double[], TokenObjective> objective)
    {
        _step.Begin();
        double value = 0;
        if (batch is not null)
        {
            var hidden = Model.MainHidden(_tape, batch);
            var loss = _tape.TokenLogProbLoss(hidden, _tape.Leaf(HeadParameter), batch.MainTargets(), GemmPrecision.F32, objective, out _);
            value = _step.Accumulate(loss, World.Size, "in a policy step", lastOfStep: true);
        }
        _step.SynchronizeGradients();
        return value;
    }

    private Parameter<float> HeadParameter => Model[Config.TieWordEmbeddings ? WeightNames.Embedding : WeightNames.OutputHead];

    /// <summary>A frozen copy of the current weights (the GRPO reference policy), with fresh optimizer state, in the same job.</summary>
    public PolicyModel Snapshot()
    {
        var copy = new PolicyModel(Config, 0, Pool, world: World);
        copy.Model.CopyValuesFrom(Model);
        return copy;
    }

    /// <summary>A copy that goes on training as this model would: the same weights and the same AdamW state.</summary>
    public PolicyModel Fork()
    {
        var copy = Snapshot();
        copy.Optimizer.CopyStateFrom(Optimizer);
        (copy.ClipNorm, copy.BiasUpdateSpeed, copy.Objective) = (ClipNorm, BiasUpdateSpeed, Objective);
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
