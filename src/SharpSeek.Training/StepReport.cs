namespace SharpSeek.Training;

/// <summary>What one optimizer step did.</summary>
public sealed record StepReport
{
    /// <summary>Optimizer steps completed including this one.</summary>
    public required long Step { get; init; }
    /// <summary>The objective L_main + (λ/D)ΣL_MTP + balance, averaged over the micro-batches.</summary>
    public required double Loss { get; init; }
    public required double MainLoss { get; init; }
    public required double[] MtpLosses { get; init; }
    public required double BalanceLoss { get; init; }
    public required double LearningRate { get; init; }
    /// <summary>Global gradient norm before clipping.</summary>
    public required double GradientNorm { get; init; }
    public required long Tokens { get; init; }
    public required double Seconds { get; init; }
    /// <summary>Tokens each expert received this step, per MoE layer (MTP layers included).</summary>
    public required IReadOnlyDictionary<int, long[]> ExpertLoad { get; init; }
    /// <summary>Processes the step ran on (data parallel); Tokens and Seconds are the whole job's.</summary>
    public int Ranks { get; init; } = 1;
    /// <summary>Seconds of this step spent exchanging gradients, loads and losses between ranks.</summary>
    public double CommunicationSeconds { get; init; }
    /// <summary>Expert parallelism: max/mean over ranks of the routed tokens their experts took, worst layer (0 without it).</summary>
    public double ExpertRankImbalance { get; init; }

    public double TokensPerSecond => Tokens / Seconds;

    /// <summary>max/mean of an expert-load row: 1 is perfectly even, E means one expert took everything.</summary>
    public static double MaxOverMean(long[] load)
    {
        double mean = load.Average();
        return mean > 0 ? load.Max() / mean : 0;
    }
}

/// <summary>Mean losses over a fixed set of batches.</summary>
public sealed record EvaluationReport(double MainLoss, double[] MtpLosses, long Tokens);
