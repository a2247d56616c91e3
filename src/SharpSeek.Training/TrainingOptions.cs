using SharpSeek.Training.Optimization;
using SharpSeek.Training.Precision;

namespace SharpSeek.Training;

/// <summary>Everything that decides a training run besides the model config and the data. Saved in every checkpoint.</summary>
public sealed record TrainingOptions
{
    /// <summary>Positions per packed sequence (T).</summary>
    public int SequenceLength { get; init; } = 128;
    /// <summary>Sequences per micro-batch.</summary>
    public int BatchSequences { get; init; } = 8;
    /// <summary>Micro-batches whose gradients are summed (each scaled by 1/n) before one optimizer step.</summary>
    public int GradientAccumulation { get; init; } = 1;
    /// <summary>Optimizer steps of the whole run (the schedule's length).</summary>
    public long Steps { get; init; } = 1000;

    public ScheduleKind Schedule { get; init; } = ScheduleKind.WarmupStableDecay;
    public double PeakLearningRate { get; init; } = 3e-3;
    public double MinLearningRate { get; init; } = 3e-4;
    public long WarmupSteps { get; init; } = 50;
    /// <summary>Warmup–stable–decay only: the share of steps spent decaying.</summary>
    public double DecayFraction { get; init; } = 0.2;

    public AdamWSettings AdamW { get; init; } = new();
    /// <summary>Global gradient-norm clip (0 = off).</summary>
    public double ClipNorm { get; init; } = 1.0;
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.F32;

    /// <summary>λ of L_main + (λ/D)·Σ L_MTP (V3: 0.3, later 0.1).</summary>
    public double MtpWeight { get; init; } = 0.3;
    /// <summary>α of the sequence-wise balance loss (V3: 1e-4; 0 = off).</summary>
    public double BalanceAlpha { get; init; } = 1e-4;
    /// <summary>γ: how far each step moves an expert's selection bias toward balance (V3: 0.001; 0 = no balancing).</summary>
    public double BiasUpdateSpeed { get; init; } = 1e-3;
    /// <summary>Steps from which the bias stays frozen (V3 froze it for the last 500B tokens); null = never.</summary>
    public long? BiasFreezeStep { get; init; }

    public ulong Seed { get; init; } = 1;

    public LearningRateSchedule LearningRates => new(Schedule, PeakLearningRate, MinLearningRate, WarmupSteps, Steps, DecayFraction);

    public int TokensPerStep => SequenceLength * BatchSequences * GradientAccumulation;

    public void Validate()
    {
        if (SequenceLength <= 0 || BatchSequences <= 0 || GradientAccumulation <= 0 || Steps <= 0)
            throw new ArgumentException("sequence length, batch, accumulation and steps must be positive");
        if (!(PeakLearningRate > 0) || MinLearningRate < 0 || WarmupSteps < 0) throw new ArgumentException("learning rates must be positive and warmup non-negative");
        if (MtpWeight < 0 || BalanceAlpha < 0 || BiasUpdateSpeed < 0 || ClipNorm < 0) throw new ArgumentException("loss weights, bias speed and clip must be non-negative");
    }
}
