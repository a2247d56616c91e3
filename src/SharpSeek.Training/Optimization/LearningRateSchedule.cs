namespace SharpSeek.Training.Optimization;

/// <summary>The shape of the learning-rate curve.</summary>
public enum ScheduleKind
{
    /// <summary>Linear warmup, then cosine decay from the peak to the minimum at the last step.</summary>
    WarmupCosine,
    /// <summary>
    /// Warmup–stable–decay: linear warmup, the peak held, then a cosine decay over the final <c>DecayFraction</c> of the
    /// steps (DeepSeek-V3 held its peak rate for most of pre-training and then decayed with a cosine).
    /// </summary>
    WarmupStableDecay,
}

/// <summary>Learning rate per optimizer step (0-based), a pure function of the step so a resumed run follows the same curve.</summary>
public sealed record LearningRateSchedule(ScheduleKind Kind, double Peak, double Minimum, long WarmupSteps, long TotalSteps, double DecayFraction = 0.2)
{
    public double At(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        long decayStart = Kind == ScheduleKind.WarmupCosine
            ? WarmupSteps
            : Math.Max(WarmupSteps, TotalSteps - (long)Math.Round(DecayFraction * TotalSteps));
        if (step < decayStart) return Peak;
        long span = Math.Max(1, TotalSteps - 1 - decayStart);
        double progress = Math.Clamp((double)(step - decayStart) / span, 0, 1);
        return Minimum + 0.5 * (Peak - Minimum) * (1 + Math.Cos(Math.PI * progress));
    }
}
