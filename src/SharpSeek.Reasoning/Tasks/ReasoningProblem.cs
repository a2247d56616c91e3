namespace SharpSeek.Reasoning.Tasks;

/// <summary>The families of verifiable problems.</summary>
public enum TaskKind
{
    /// <summary>Multi-digit addition, subtraction and multiplication, solved column by column.</summary>
    Arithmetic,
    /// <summary>Multi-step integer expressions with parentheses.</summary>
    Expression,
    /// <summary>Reach a target with given numbers and + − × ÷, each number at most once.</summary>
    Countdown,
    /// <summary>Templated story problems.</summary>
    WordProblem,
}

/// <summary>
/// Which split a problem is on: <see cref="Train"/> (every training stage), <see cref="Dev"/> (every choice made while
/// training: mixes, learning rates, checkpoints, the GRPO curves), <see cref="Test"/> (touched only for the final table).
/// </summary>
public enum DataSplit
{
    Train,
    Dev,
    Test,
}

/// <summary>
/// One generated problem: the question the model sees, the verified answer, and the step-by-step reasoning the
/// generator wrote (cold-start SFT traces). <see cref="CanonicalKey"/> names the mathematical content only (no names,
/// items or number order), so every surface variant of one problem lands on the same split.
/// </summary>
public sealed record ReasoningProblem
{
    public required TaskKind Kind { get; init; }
    /// <summary>1 (easiest) to <see cref="ProblemGenerator.MaxDifficulty"/>.</summary>
    public required int Difficulty { get; init; }
    public required string Question { get; init; }
    /// <summary>The reference answer (an integer, or for Countdown one valid expression).</summary>
    public required string Answer { get; init; }
    /// <summary>Step-by-step reasoning ending at the answer, without the think tags.</summary>
    public required string Reasoning { get; init; }
    public required string CanonicalKey { get; init; }
    /// <summary>
    /// The arithmetic facts the problem rests on, normalised (<see cref="ProblemSplit.Fact"/>): "12 + 34", "34 + 12",
    /// "46 − 12" and a story about 12 apples and 34 more are all the fact <c>sum:12,34</c>. The split is decided by
    /// these, so no fact of a Dev or Test problem is ever trained on, whatever the task family that states it.
    /// Empty: the canonical key alone.
    /// </summary>
    public IReadOnlyList<string> Facts { get; init; } = [];
    /// <summary>Countdown only: the numbers that may be used.</summary>
    public int[] Numbers { get; init; } = [];
    /// <summary>Countdown only: the value to reach.</summary>
    public long Target { get; init; }
}
