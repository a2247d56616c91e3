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

    /// <summary>
    /// <paramref name="completion"/> (the tokens sampled after <see cref="Prompt"/>) decoded and taken apart once: its
    /// rule-based rewards, its reasoning (for statistics such as <see cref="SelfCheck"/>), and whether it ended on its
    /// own (end-of-sentence or a stop string) rather than at the token budget.
    /// </summary>
    public JudgedCompletion Judge(ReasoningProblem problem, int[] completion, bool thinking)
    {
        string text = Tokenizer.Decode(completion);
        var parsed = Parse(text, thinking);
        return new JudgedCompletion(RewardFunction.Default.Score(problem, parsed), parsed.Reasoning, EndsItself(completion, text));
    }

    /// <summary>The rule-based rewards of <paramref name="completion"/>.</summary>
    public CompletionReward Score(ReasoningProblem problem, int[] completion, bool thinking) => Judge(problem, completion, thinking).Reward;

    /// <summary>A decoded completion taken apart in this layout.</summary>
    protected abstract ParsedCompletion Parse(string completion, bool thinking);

    protected virtual bool EndsItself(int[] completion, string text) => completion.Length > 0 && completion[^1] == EndOfSentence;
}

/// <summary>What <see cref="ProblemFormat.Judge"/> reads in one completion.</summary>
public readonly record struct JudgedCompletion(CompletionReward Reward, string Reasoning, bool Ended);
