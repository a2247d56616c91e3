using SharpSeek.Tensors.Threading;
using SharpSeek.Training.Autodiff;


namespace SharpSeek.Training.Optimization;

/// <summary>
/// One optimizer step of a <see cref="TrainableModel{T}"/>, written once for pretraining (<see cref="Trainer"/>) and
/// every stage of the R1 pipeline (supervised fine-tuning and GRPO):
/// <code>
///   Begin                       zero gradients and the experts' load counters
///   Accumulate(loss, 1/n) × n   backward of each micro-batch's loss (gradients add up in the parameters)
///   Finish(lr)                  clip by global norm → AdamW → drop cached low-precision weight copies →
///                               aux-loss-free bias update from this step's expert load
/// </code>
/// The order is part of the contract: a resumed run reproduces an uninterrupted one bit for bit only if every run
/// applies the same operations in the same order.
/// </summary>
public sealed class TrainingStep
{
    private readonly TrainableModel<float> _model;
    private readonly List<Parameter<float>> _trainable;
    private readonly Tape<float> _tape;
    private readonly ComputePool _pool;

    public TrainingStep(TrainableModel<float> model, Tape<float> tape, ComputePool pool, AdamWSettings settings)
    {
        _model = model;
        _tape = tape;
        _pool = pool;
        _trainable = model.Parameters.Where(p => p.Trainable).ToList();
        Optimizer = new AdamW(_trainable, settings);
    }

    public AdamW Optimizer { get; }

    public void Begin()
    {
        _model.ZeroGradients();
        _model.ResetExpertLoad();
    }

    /// <summary>
    /// Back-propagates <paramref name="loss"/> scaled by <paramref name="scale"/> and clears the tape; returns the loss.
    /// A loss that is not finite stops the run with a message naming <paramref name="where"/> (the step, the stage).
    /// </summary>
    public double Accumulate(Node<float> loss, float scale, string where)
    {
        double value = loss.Scalar;
        if (!double.IsFinite(value)) throw new InvalidOperationException($"the loss became {value} {where}; lower the learning rate");
        if (loss.RequiresGrad) _tape.Backward(loss, scale);
        _tape.Reset();
        return value;
    }

    /// <summary>
    /// Clips, updates and balances. <paramref name="biasUpdateSpeed"/> is γ of the balancing (0 skips it, as a frozen
    /// bias does). Returns the gradient norm before clipping.
    /// </summary>
    public double Finish(double learningRate, double clipNorm, double biasUpdateSpeed)
    {
        double norm = GradientClipping.ClipByGlobalNorm(_trainable, clipNorm, _pool);
        Optimizer.Update(learningRate, _pool);
        // FP8/BF16 GEMMs reuse rounded copies of the weights; after an update they are stale.
        _tape.WeightOperands.Invalidate();
        if (biasUpdateSpeed > 0) UpdateSelectionBiases((float)biasUpdateSpeed);
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
}
