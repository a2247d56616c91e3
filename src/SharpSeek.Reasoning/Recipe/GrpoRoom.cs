using SharpSeek.Reasoning.Evaluation;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Tensors;

namespace SharpSeek.Reasoning.Recipe;

/// <summary>
/// How GRPO's training cells are chosen after SFT: every (task, difficulty) cell GRPO may draw from is sampled on the
/// dev split, <see cref="Probe"/>'s problems × samples with thinking, and GRPO trains on the cells whose pass@k
/// (k = the probe's samples) exceeds pass@1 by at least <see cref="Margin"/>.
/// </summary>
/// <remarks>
/// RL sharpens what the model already reaches now and then: where pass@1 is near 1 there is nothing left to gain, where
/// pass@k is near 0 every group's rewards are equal and there is no signal, and in between pass@k − pass@1 is the share
/// of problems the model solves sometimes but not reliably — the room. Measured on dev, so the choice never sees test.
/// </remarks>
public sealed record GrpoRoomSettings
{
    /// <summary>The dev probe: problems per cell and samples per problem (k of pass@k).</summary>
    public EvaluationSettings Probe { get; init; } = new() { Split = DataSplit.Dev, ProblemsPerCell = 16, Samples = 16 };
    /// <summary>pass@k − pass@1 a cell needs to be trained on ("pass@16 clearly above pass@1").</summary>
    public double Margin { get; init; } = 0.2;
    /// <summary>
    /// Share of GRPO's prompts drawn from every candidate cell rather than the chosen ones, so RL keeps seeing the
    /// problems the model already solves (0: the chosen cells only). Solved prompts mostly give all-equal groups,
    /// which dynamic sampling skips, but the ones it keeps hold the policy to what it had right.
    /// </summary>
    public double OtherShare { get; init; }
}

/// <summary>One cell of the dev probe: its pass@1, pass@k and whether GRPO trains on it.</summary>
public sealed record CellRoom(TaskKind Kind, int Difficulty, int Problems, double PassAt1, double PassAtK, bool Chosen)
{
    public double Room => PassAtK - PassAt1;
    public override string ToString() => FormattableString.Invariant($"{Kind} D{Difficulty}");
}

public static class GrpoRoom
{
    /// <summary>
    /// One GRPO training prompt: from <paramref name="chosen"/> (uniform over cells), or with probability
    /// <paramref name="otherShare"/> from every candidate cell (<paramref name="difficulties"/> × <paramref name="tasks"/>,
    /// as an unprobed run draws). With a share of 0 no extra random number is drawn.
    /// </summary>
    public static ReasoningProblem Draw(ref DeterministicRandom rng, IReadOnlyList<(TaskKind Kind, int Difficulty)> chosen, double otherShare,
        int[] difficulties, TaskKind[]? tasks) =>
        otherShare > 0 && rng.NextDouble() < otherShare
            ? ProblemGenerator.DrawTraining(ref rng, difficulties, tasks)
            : ProblemGenerator.DrawTrainingFrom(ref rng, chosen);

    /// <summary>
    /// The probe's cells (one stage, thinking) with their room, in probe order, restricted to
    /// <paramref name="difficulties"/>; a cell is chosen when its pass@k − pass@1 ≥ <paramref name="margin"/>.
    /// </summary>
    public static List<CellRoom> Measure(IEnumerable<EvaluationCell> probe, IReadOnlyCollection<int> difficulties, double margin)
    {
        var rooms = new List<CellRoom>();
        foreach (var c in probe)
        {
            if (!difficulties.Contains(c.Difficulty)) continue;
            var curve = c.Solved.PassAtKCurve();
            double passAtK = curve.Length == 0 ? c.PassAt1 : curve[^1];
            // A tolerance: pass@k − pass@1 is a difference of estimates, and a margin written as 0.2 should admit 0.2.
            rooms.Add(new CellRoom(c.Kind, c.Difficulty, c.Problems, c.PassAt1, passAtK, passAtK - c.PassAt1 >= margin - 1e-12));
        }
        return rooms;
    }
}
