using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Reasoning.Tasks;

/// <summary>A completion taken apart: the reasoning inside the think block and the final answer after it.</summary>
public readonly record struct ParsedCompletion(bool WellFormed, string Reasoning, string? Answer);

/// <summary>The rule-based rewards of a completion; <see cref="Total"/> is what GRPO maximises.</summary>
public readonly record struct CompletionReward(double Accuracy, double Format, double Total, string? Answer);

/// <summary>
/// R1's two rule-based rewards. Format: the assistant text is <c>&lt;think&gt;</c>, non-empty reasoning,
/// <c>&lt;/think&gt;</c>, then a non-empty single-line answer and nothing else (the end-of-sentence token aside).
/// Accuracy: the text after <c>&lt;/think&gt;</c> passes the problem's <see cref="AnswerVerifier"/>; a completion
/// without a closed think block has no answer and scores 0.
/// </summary>
public sealed class RewardFunction(double formatWeight = 0.1)
{
    public double FormatWeight { get; } = formatWeight >= 0 ? formatWeight : throw new ArgumentOutOfRangeException(nameof(formatWeight), "must be non-negative");

    /// <summary>The weights every format scores with.</summary>
    public static RewardFunction Default { get; } = new();

    /// <param name="assistantText">Everything the assistant turn holds, starting with the <c>&lt;think&gt;</c> the prompt opened.</param>
    public CompletionReward Score(ReasoningProblem problem, string assistantText) => Score(problem, Parse(assistantText));

    /// <summary>The rewards of a completion already taken apart (by <see cref="Parse"/> or another layout's parser).</summary>
    public CompletionReward Score(ReasoningProblem problem, ParsedCompletion parsed)
    {
        double accuracy = parsed.Answer is not null && AnswerVerifier.IsCorrect(problem, parsed.Answer) ? 1 : 0;
        double format = parsed.WellFormed ? 1 : 0;
        return new CompletionReward(accuracy, format, accuracy + FormatWeight * format, parsed.Answer);
    }

    public static ParsedCompletion Parse(string assistantText)
    {
        ArgumentNullException.ThrowIfNull(assistantText);
        string text = assistantText;
        int eos = text.IndexOf(DeepSeekTokens.EndOfSentence, StringComparison.Ordinal);
        bool trailingAfterEos = eos >= 0 && text.Length > eos + DeepSeekTokens.EndOfSentence.Length;
        if (eos >= 0) text = text[..eos];
        string trimmedStart = text.TrimStart();
        bool opens = trimmedStart.StartsWith(DeepSeekTokens.ThinkBegin, StringComparison.Ordinal);
        int close = text.IndexOf(DeepSeekTokens.ThinkEnd, StringComparison.Ordinal);
        if (close < 0) return new ParsedCompletion(false, opens ? trimmedStart[DeepSeekTokens.ThinkBegin.Length..].Trim() : "", null);
        string reasoning = opens ? text[(text.IndexOf(DeepSeekTokens.ThinkBegin, StringComparison.Ordinal) + DeepSeekTokens.ThinkBegin.Length)..close].Trim() : "";
        string after = text[(close + DeepSeekTokens.ThinkEnd.Length)..].Trim();
        bool single = after.Length > 0 && !after.Contains('\n') && !after.Contains(DeepSeekTokens.ThinkBegin, StringComparison.Ordinal)
            && !after.Contains(DeepSeekTokens.ThinkEnd, StringComparison.Ordinal);
        bool wellFormed = opens && reasoning.Length > 0 && single && !trailingAfterEos;
        return new ParsedCompletion(wellFormed, reasoning, after.Length > 0 ? after : null);
    }
}
