using System.Diagnostics;
using SharpSeek.Distributed;
using SharpSeek.Model;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Checkpoints;
using SharpSeek.Training.Data;
using SharpSeek.Training.Optimization;
using SharpSeek.Training.ScaleOut;
using SharpSeek.Training.Precision;

namespace SharpSeek.Training;

/// <summary>
/// One training run, step by step:
/// <code>
///   for each of GradientAccumulation micro-batches:
///       L = L_main + (λ/D)·Σ_k L_MTP^k + α·Σ_layers L_balance      (forward on the tape)
///       backward with seed 1/GradientAccumulation                   (gradients accumulate in the parameters)
///   clip by global norm; AdamW step at the scheduled learning rate
///   aux-loss-free balancing: per MoE layer, b_e += γ·sign(mean load − load_e)   (no gradient involved)
/// </code>
/// The step's mechanics (backward, clip, AdamW, cache invalidation, balancing) are <see cref="TrainingStep"/>'s, shared
/// with the R1 pipeline's fine-tuning and GRPO.
/// Master weights, gradients and optimizer state are f32 in every precision mode; the mode only decides how GEMM
/// inputs are rounded. Everything is deterministic for a given thread count, so a run resumed from a checkpoint
/// reproduces the uninterrupted run bit for bit.
/// <para>
/// Data parallel (a <see cref="ICommunicator"/> of N ranks): every rank draws the same global micro-batch from the same
/// loader and trains on its N-th of the sequences; the gradients' mean over ranks equals the gradient of the whole
/// micro-batch, so the run follows the one-process loss curve whatever N (up to summation order), and the loader's
/// position, the checkpoints and a resume do not depend on N either.
/// </para>
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly Tape<float> _tape;
    private readonly TrainingStep _step;

    /// <param name="expertParallel">Spread the routed experts over the job's ranks (true needs a multi-rank job).</param>
    public Trainer(ModelConfig config, TrainingOptions options, PackedDataset data, ComputePool? pool = null, ICommunicator? world = null, bool expertParallel = false)
        : this(config, options, data, pool, world, expertParallel, initialize: true)
    {
    }

    private Trainer(ModelConfig config, TrainingOptions options, PackedDataset data, ComputePool? pool, ICommunicator? world, bool expertParallel, bool initialize)
    {
        options.Validate();
        World = world ?? SingleProcess.Instance;
        ValidateLayout(options, World.Size, expertParallel);
        if (data.SequenceLength != options.SequenceLength)
            throw new ArgumentException($"the dataset cuts sequences of {data.SequenceLength}, the options ask for {options.SequenceLength}");
        if (data.VocabularySize > config.VocabSize)
            throw new ArgumentException($"the data's vocabulary ({data.VocabularySize}) does not fit the model's ({config.VocabSize})");
        Options = options;
        Pool = pool ?? ComputePool.Shared;
        // Under expert parallelism this rank allocates only its own routed experts.
        ExpertParallelism? experts = null;
        if (expertParallel)
        {
            experts = new ExpertParallelism(World, config);
        }
        Model = new TrainableModel<float>(config, experts is null ? null : experts.Holds);
        if (experts is not null)
        {
            experts.Bind(Model);
            Model.ExpertParallel = experts;
        }
        if (initialize) Model.Initialize(options.Seed);
        Loader = new BatchLoader(data, options.BatchSequences, options.Seed);
        _tape = new Tape<float>(Pool, PrecisionPolicy.For(options.Precision));
        _step = new TrainingStep(Model, _tape, Pool, options.AdamW, World);
    }

    /// <summary>
    /// Whether a run of <paramref name="options"/> can be spread over <paramref name="ranks"/> processes (each takes an
    /// equal share of every micro-batch; expert parallelism needs several); callers check it before preparing data.
    /// </summary>
    public static void ValidateLayout(TrainingOptions options, int ranks, bool expertParallel)
    {
        if (options.BatchSequences % ranks != 0)
            throw new ArgumentException($"a micro-batch of {options.BatchSequences} sequences does not split evenly over {ranks} ranks; make --batch a multiple of {ranks}");
        if (expertParallel && ranks < 2) throw new ArgumentException("expert parallelism needs several processes: start the run with mpirun -np N");
    }

    /// <summary>Continues the run saved in <paramref name="checkpointDirectory"/>: weights, optimizer moments, step and data position.</summary>
    /// <param name="adjust">Changes to the saved options (say, more steps); anything else that changes breaks bit-identical continuation.</param>
    public static Trainer Resume(string checkpointDirectory, PackedDataset data, ComputePool? pool = null, Func<TrainingOptions, TrainingOptions>? adjust = null,
        ICommunicator? world = null, bool expertParallel = false)
    {
        var (config, state) = TrainingCheckpoint.ReadConfigAndState(checkpointDirectory);
        var options = adjust is null ? state.Options : adjust(state.Options);
        var trainer = new Trainer(config, options, data, pool, world, expertParallel, initialize: false);
        try
        {
            TrainingCheckpoint.Restore(checkpointDirectory, trainer.Model, trainer.Optimizer);
            trainer.Step = state.Step;
            trainer.TokensSeen = state.TokensSeen;
            trainer.Optimizer.StepCount = state.OptimizerSteps;
            trainer.Loader = new BatchLoader(data, options.BatchSequences, options.Seed, new LoaderPosition(state.LoaderEpoch, state.LoaderCursor));
            return trainer;
        }
        catch
        {
            trainer.Dispose();
            throw;
        }
    }

    public TrainingOptions Options { get; }
    public ComputePool Pool { get; }
    /// <summary>The processes this run is spread over (one, without mpirun).</summary>
    public ICommunicator World { get; }
    public TrainableModel<float> Model { get; }
    public AdamW Optimizer => _step.Optimizer;
    public BatchLoader Loader { get; private set; }
    /// <summary>Optimizer steps completed.</summary>
    public long Step { get; private set; }
    public long TokensSeen { get; private set; }
    public ModelConfig Config => Model.Config;
    public long PeakActivationBytes => _tape.PeakActivationBytes;

    public StepReport TrainStep()
    {
        long t0 = Stopwatch.GetTimestamp();
        var objective = new ObjectiveSettings(Options.MtpWeight, Options.BalanceAlpha);
        _step.Begin();
        int accumulation = Options.GradientAccumulation;
        double loss = 0, main = 0, balance = 0;
        var mtp = new double[Config.NumNextnPredictLayers];
        int share = Options.BatchSequences / World.Size;
        for (int micro = 0; micro < accumulation; micro++)
        {
            var batch = Loader.Next().Slice(World.Rank * share, share);
            var r = Model.Loss(_tape, batch, objective);
            loss += _step.Accumulate(r.Loss, 1f / accumulation, $"at step {Step + 1}", lastOfStep: micro == accumulation - 1) / accumulation;
            main += r.MainLoss / accumulation;
            balance += r.BalanceLoss / accumulation;
            for (int k = 0; k < mtp.Length; k++) mtp[k] += r.MtpLosses[k] / accumulation;
        }

        double lr = Options.LearningRates.At(Step);
        bool balancing = Options.BiasFreezeStep is not long freeze || Step < freeze;
        double norm = _step.Finish(lr, Options.ClipNorm, balancing ? Options.BiasUpdateSpeed : 0);
        // After Finish the loads are the whole batch's (summed over ranks); the losses are each rank's own until averaged here.
        var load = Model.MoeLayers.ToDictionary(l => l, l => (long[])Model.ExpertLoad(l).Clone());
        double communication = _step.CommunicationSeconds;
        if (World.Size > 1)
        {
            long t1 = Stopwatch.GetTimestamp();
            double[] losses = [loss, main, balance, .. mtp];
            World.AllReduceSum(losses);
            (loss, main, balance) = (losses[0] / World.Size, losses[1] / World.Size, losses[2] / World.Size);
            for (int k = 0; k < mtp.Length; k++) mtp[k] = losses[3 + k] / World.Size;
            communication += Stopwatch.GetElapsedTime(t1).TotalSeconds;
        }

        Step++;
        long tokens = (long)Options.TokensPerStep;
        TokensSeen += tokens;
        return new StepReport
        {
            Step = Step, Loss = loss, MainLoss = main, MtpLosses = mtp, BalanceLoss = balance, LearningRate = lr,
            GradientNorm = norm, Tokens = tokens, Seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds, ExpertLoad = load,
            Ranks = World.Size, CommunicationSeconds = communication,
            ExpertRankImbalance = Model.ExpertParallel?.RankImbalance(load.Values) ?? 0,
        };
    }

    /// <summary>Mean main and MTP cross-entropy over <paramref name="batches"/> (no gradients, no balancing side effects).</summary>
    /// <param name="precision">GEMM precision of the evaluation; the training precision when null. Evaluating FP8-trained
    /// weights in f32 separates the quality of the weights from the noise FP8 adds to every forward pass.</param>
    public EvaluationReport Evaluate(IReadOnlyList<TokenBatch> batches, TrainingPrecision? precision = null)
    {
        if (batches.Count == 0) throw new ArgumentException("nothing to evaluate");
        var objective = new ObjectiveSettings(Options.MtpWeight, 0);
        var trainingPolicy = _tape.Precision;
        if (precision is { } p) _tape.Precision = PrecisionPolicy.For(p);
        _tape.GradientsEnabled = false;
        try
        {
            double main = 0;
            var mtp = new double[Config.NumNextnPredictLayers];
            long tokens = 0;
            foreach (var batch in batches)
            {
                var r = Model.Loss(_tape, batch, objective);
                _tape.Reset();
                main += r.MainLoss / batches.Count;
                for (int k = 0; k < mtp.Length; k++) mtp[k] += r.MtpLosses[k] / batches.Count;
                tokens += batch.Positions;
            }
            return new EvaluationReport(main, mtp, tokens);
        }
        finally
        {
            _tape.GradientsEnabled = true;
            _tape.Precision = trainingPolicy;
        }
    }

    /// <summary>Writes a checkpoint under <paramref name="outputDirectory"/> (atomically) and returns its path.</summary>
    /// <remarks>Under expert parallelism every rank calls <see cref="PrepareCheckpoint"/> first; rank 0 then writes.</remarks>
    public string SaveCheckpoint(string outputDirectory)
    {
        if (Model.ExpertParallel is not null && _staged is null)
            throw new InvalidOperationException("under expert parallelism, every rank calls PrepareCheckpoint first and rank 0 writes");
        try
        {
            return TrainingCheckpoint.Save(this, outputDirectory, _staged);
        }
        finally
        {
            _staged?.Dispose();
            _staged = null;
        }
    }

    /// <summary>
    /// Under expert parallelism, brings the experts other ranks own to rank 0 (weights and moments) for the next
    /// <see cref="SaveCheckpoint"/>; every rank calls it at the same step. A no-op otherwise.
    /// </summary>
    public void PrepareCheckpoint()
    {
        _staged?.Dispose();
        _staged = Model.ExpertParallel?.GatherExperts(Model, Optimizer);
    }

    private StagedExperts? _staged;

    public void Dispose()
    {
        _staged?.Dispose();
        _tape.Dispose();
        _step.Dispose();
        Optimizer.Dispose();
        Model.Dispose();
    }
}
