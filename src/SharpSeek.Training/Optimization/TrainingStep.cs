using SharpSeek.Distributed;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.ScaleOut;


namespace SharpSeek.Training.Optimization;

/// <summary>
/// One optimizer step of a <see cref="TrainableModel{T}"/>, written once for pretraining (<see cref="Trainer"/>) and
/// every stage of the R1 pipeline (supervised fine-tuning and GRPO):
/// <code>
///   Begin                       zero gradients and the experts' load counters
///   Accumulate(loss, 1/n) × n   backward of each micro-batch's loss (gradients add up in the parameters)
///   Finish(lr)                  [ranks > 1: mean of the gradients and sum of the expert load over ranks] →
///                               clip by global norm → AdamW → drop cached low-precision weight copies →
///                               aux-loss-free bias update from this step's expert load
/// </code>
/// Under data parallelism every rank runs the same step on its share of the batch; after the exchange all ranks hold
/// the same gradients and loads, so they take the same update and their weights stay identical.
/// The order is part of the contract: a resumed run reproduces an uninterrupted one bit for bit only if every run
/// applies the same operations in the same order.
/// </summary>
public sealed class TrainingStep : IDisposable
{
    private readonly TrainableModel<float> _model;
    private readonly List<Parameter<float>> _trainable;
    private readonly Tape<float> _tape;
    private readonly ComputePool _pool;
    private readonly ICommunicator _world;
    private readonly GradientSynchronizer? _gradients;
    private readonly Action<List<Parameter<float>>>? _onFinal;
    private readonly ExpertParallelism? _experts;
    private readonly List<Parameter<float>> _replicated, _owned;
    private double _communicationSeconds;
    private bool _synchronized;

    public TrainingStep(TrainableModel<float> model, Tape<float> tape, ComputePool pool, AdamWSettings settings, ICommunicator? world = null)
    {
        _model = model;
        _tape = tape;
        _pool = pool;
        _world = world ?? SingleProcess.Instance;
        _trainable = model.Parameters.Where(p => p.Trainable).ToList();
        Optimizer = new AdamW(_trainable, settings);
        // Under expert parallelism the routed experts are each trained by one rank; everything else is replicated.
        _experts = model.ExpertParallel;
        _replicated = _experts is null ? _trainable : _trainable.Where(p => !_experts.IsExpert(p)).ToList();
        _owned = _experts is null ? [] : _trainable.Where(_experts.Owned.Contains).ToList();
        if (_world.Size > 1)
        {
            _gradients = new GradientSynchronizer(_replicated, _world);
            _onFinal = _gradients.OnFinal;
        }
    }

    public AdamW Optimizer { get; }
    public ICommunicator World => _world;

    /// <summary>Seconds this step spent in communication calls (0 in one process).</summary>
    public double CommunicationSeconds => _communicationSeconds;

    public void Begin()
    {
        _model.ZeroGradients();
        _model.ResetExpertLoad();
        _gradients?.Begin();
        _communicationSeconds = 0;
        _synchronized = false;
    }

    /// <summary>
    /// Back-propagates <paramref name="loss"/> scaled by <paramref name="scale"/> and clears the tape; returns the loss.
    /// A loss that is not finite stops the run with a message naming <paramref name="where"/> (the step, the stage).
    /// </summary>
    /// <param name="lastOfStep">The step's last micro-batch: with several ranks, gradients start travelling while its
    /// backward pass runs (earlier micro-batches still add to them, so theirs cannot).</param>
    public double Accumulate(Node<float> loss, float scale, string where, bool lastOfStep = false)
    {
        double value = loss.Scalar;
        if (!double.IsFinite(value)) throw new InvalidOperationException($"the loss became {value} {where}; lower the learning rate");
        _tape.GradientsFinal = lastOfStep ? _onFinal : null;
        try
        {
            // Over N ranks each gradient is seeded with 1/N, so the ranks' sum is the mean over the whole batch.
            if (loss.RequiresGrad) _tape.Backward(loss, scale / _world.Size);
        }
        finally
        {
            _tape.GradientsFinal = null;
        }
        _tape.Reset();
        return value;
    }

    /// <summary>
    /// Clips, updates and balances. <paramref name="biasUpdateSpeed"/> is γ of the balancing (0 skips it, as a frozen
    /// bias does). Returns the gradient norm before clipping.
    /// </summary>
    public double Finish(double learningRate, double clipNorm, double biasUpdateSpeed)
    {
        SynchronizeGradients();
        double norm = _experts is null ? GradientClipping.ClipByGlobalNorm(_trainable, clipNorm, _pool) : ClipWithOwnedExperts(clipNorm);
        Optimizer.Update(learningRate, _pool);
        // FP8/BF16 GEMMs reuse rounded copies of the weights; after an update they are stale.
        _tape.WeightOperands.Invalidate();
        if (biasUpdateSpeed > 0) UpdateSelectionBiases((float)biasUpdateSpeed);
        return norm;
    }

    /// <summary>
    /// With several ranks: replicated gradients become their mean over ranks (each rank's were seeded with 1/N, so the
    /// sum is the mean); an owned expert's gradient already is (it sums every rank's 1/N-seeded rows routed to it);
    /// expert loads become the whole batch's. Done once per
    /// step (<see cref="Finish"/> calls it; a caller that wants the gradients themselves may call it first).
    /// </summary>
    public void SynchronizeGradients()
    {
        if (_gradients is null || _synchronized) return;
        _synchronized = true;
        _gradients.Finish();
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (int layer in _model.MoeLayers) _world.AllReduceSum(_model.ExpertLoad(layer));
        _communicationSeconds = _gradients.TakeCommunicationSeconds() + System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds
            + (_experts?.TakeExchangeSeconds() ?? 0);
    }

    /// <summary>
    /// Expert parallelism's clip: the global norm adds the replicated part (the same on every rank) to the owned experts'
    /// parts summed over ranks.
    /// </summary>
    private double ClipWithOwnedExperts(double clipNorm)
    {
        double replicated = GradientClipping.GlobalNorm(_replicated, _pool);
        double owned = GradientClipping.GlobalNorm(_owned, _pool);
        double[] experts = [owned * owned];
        _world.AllReduceSum(experts);
        double norm = Math.Sqrt(replicated * replicated + experts[0]);
        GradientClipping.ClipToNorm([.. _replicated, .. _owned], norm, clipNorm);
        return norm;
    }

    /// <summary>
    /// Auxiliary-loss-free balancing (DeepSeek-V3 §2.1.2): an expert that took more than the mean load this step has its
    /// selection bias lowered by γ, one that took less has it raised by γ. The bias only affects which experts are
    /// chosen, never the combine weights, so balance is steered without a loss term pulling against the objective.
    /// </summary>
    private void UpdateSelectionBiases(float gamma)
    {
        foreach (int layer in _model.MoeLayers)
        {
            if (_model.SelectionBias(layer) is not { } bias) continue;
            var counts = _model.ExpertLoad(layer);
            double mean = counts.Average();
            var b = bias.Values;
            for (int e = 0; e < counts.Length; e++) b[e] += gamma * Math.Sign(mean - counts[e]);
        }
    }

    public void Dispose() => _gradients?.Dispose();
}
