using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Reasoning.Tasks;

/// <summary>
/// R1-Zero's way in: no chat template and no trace to imitate, only the plain-text layout of the pretraining data.
/// The prompt is <c>Question: q\nSolution:\n</c>; the model writes its reasoning, a line <c>Answer: a</c> and a blank
/// line, where generation stops. DeepSeek-R1-Zero's template did the same for its base model: a layout the base can
/// continue (there, <c>&lt;think&gt;…&lt;/think&gt; &lt;answer&gt;…&lt;/answer&gt;</c>), rewarded by rules alone.
/// Format reward: non-empty reasoning, then exactly one answer line, last, then the blank line. Accuracy: the answer
/// line's text passes <see cref="AnswerVerifier"/>.
/// </summary>
public sealed class SolutionTextFormat(ByteLevelBpeTokenizer tokenizer) : ProblemFormat(tokenizer)
{
    /// <summary>A blank line ends a solution in the pretraining text.</summary>
    public const string Stop = "\n\n";
    private const string AnswerPrefix = "Answer:";

    public override IReadOnlyList<string> StopStrings { get; } = [Stop];

    /// <summary>The pretraining text's opening of a problem (<see cref="ReasoningChatFormat.PretrainingText"/>).</summary>
    public static string PromptText(string question) => $"Question: {question}\nSolution:\n";

    /// <summary>The same prompt either way: this layout has no way to skip the reasoning.</summary>
    public override int[] Prompt(ReasoningProblem problem, bool thinking) => Tokenizer.Encode(PromptText(problem.Question));

    /// <summary>The rewards of a decoded completion.</summary>
    public static CompletionReward Score(ReasoningProblem problem, string completion) => RewardFunction.Default.Score(problem, Parse(completion));

    protected override ParsedCompletion Parse(string completion, bool thinking) => Parse(completion);

    protected override bool EndsItself(int[] completion, string text) => base.EndsItself(completion, text) || text.Contains(Stop, StringComparison.Ordinal);

    /// <summary>
    /// The reasoning lines and the answer of a completion, read up to the first blank line (or end-of-sentence). A
    /// completion with no answer line has no answer; one cut before its blank line is not well formed.
    /// </summary>
    public static ParsedCompletion Parse(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        string text = completion;
        int eos = text.IndexOf(DeepSeekTokens.EndOfSentence, StringComparison.Ordinal);
        if (eos >= 0) text = text[..eos];
        int stop = text.IndexOf(Stop, StringComparison.Ordinal);
        bool ended = stop >= 0 || eos >= 0;
        if (stop >= 0) text = text[..stop];
        var lines = text.Split('\n');
        int answerLine = Array.FindIndex(lines, l => l.StartsWith(AnswerPrefix, StringComparison.Ordinal));
        if (answerLine < 0) return new ParsedCompletion(false, text.Trim(), null);
        string reasoning = string.Join('\n', lines[..answerLine]).Trim();
        string answer = lines[answerLine][AnswerPrefix.Length..].Trim();
        bool wellFormed = ended && reasoning.Length > 0 && answer.Length > 0 && answerLine == lines.Length - 1;
        return new ParsedCompletion(wellFormed, reasoning, answer.Length > 0 ? answer : null);
    }
}
