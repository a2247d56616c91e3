using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Reasoning.Tasks;

/// <summary>
/// How a problem is put to a model and how what it writes is scored: the R1 chat layout (<see cref="ReasoningChatFormat"/>)
/// or the plain text the base model was pretrained on (<see cref="SolutionTextFormat"/>, R1-Zero's way in). Sampling,
/// GRPO and evaluation go through this, so each stage runs unchanged on either.
/// </summary>
public abstract class ProblemFormat
{
    protected ProblemFormat(ByteLevelBpeTokenizer tokenizer)
    {
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        EndOfSentence = tokenizer.TokenToId(DeepSeekTokens.EndOfSentence)
            ?? throw new ArgumentException($"the tokenizer has no {DeepSeekTokens.EndOfSentence} token");
        Padding = tokenizer.PadTokenId ?? EndOfSentence;
    }

    public ByteLevelBpeTokenizer Tokenizer { get; }

    /// <summary>The token that ends a sequence.</summary>
    public int EndOfSentence { get; }

    /// <summary>What packed batches are padded with: the tokenizer's pad token, else end-of-sentence.</summary>
    public int Padding { get; }

    /// <summary>Texts that end a completion besides the end-of-sentence token (the stopping text is part of the completion).</summary>
    public virtual IReadOnlyList<string> StopStrings => [];

    /// <summary>The prompt's tokens; <paramref name="thinking"/> is false to ask for the answer at once, where the layout allows it.</summary>
    public abstract int[] Prompt(ReasoningProblem problem, bool thinking);

    /// <summary>The rule-based rewards of <paramref name="completion"/> (the tokens sampled after <see cref="Prompt"/>).</summary>
    public abstract CompletionReward Score(ReasoningProblem problem, int[] completion, bool thinking);

    /// <summary>The completion's reasoning (what comes before the answer), for statistics such as <see cref="SelfCheck"/>.</summary>
    public abstract string Reasoning(int[] completion, bool thinking);

    /// <summary>Whether the completion ended on its own (end-of-sentence, or a stop string) rather than at the token budget.</summary>
    public virtual bool Ended(int[] completion) => completion.Length > 0 && completion[^1] == EndOfSentence;
}
