using SharpSeek.Reasoning.Generation;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Reasoning.Training;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Reasoning.Tests;

/// <summary>R1-Zero's plain-text format: its prompt, its rule-based rewards, self-checks, and rollouts that stop at the blank line.</summary>
public sealed class ZeroFormatTests
{
    private static readonly ReasoningProblem Sub = new()
    {
        Kind = TaskKind.Arithmetic, Difficulty = 1, Question = "What is 77 - 60?", Answer = "17",
        Reasoning = "ones: 7 - 0 = 7\ntens: 7 - 6 = 1\nso 77 - 60 = 17", CanonicalKey = "arith:77-60",
    };

    [Fact]
    public void The_prompt_is_the_pretraining_texts_opening()
    {
        string text = ReasoningChatFormat.PretrainingText(Sub);
        Assert.StartsWith(SolutionTextFormat.PromptText(Sub.Question), text, StringComparison.Ordinal);
        // What follows the prompt in the pretraining text is exactly a completion the format scores as right and well formed.
        var r = SolutionTextFormat.Score(Sub, text[SolutionTextFormat.PromptText(Sub.Question).Length..]);
        Assert.Equal((1.0, 1.0, 1.1), (r.Accuracy, r.Format, Math.Round(r.Total, 12)));
        Assert.Equal("17", r.Answer);
    }

    [Theory]
    [InlineData("ones: 7 - 0 = 7\nso 77 - 60 = 17\nAnswer: 17\n\n", 1, 1)]
    [InlineData("so 77 - 60 = 17\nAnswer: 17\n\nQuestion: What is 1 + 1?", 1, 1)] // what follows the stop is not read
    [InlineData("so 77 - 60 = 17\nAnswer: 17<｜end▁of▁sentence｜>", 1, 1)]
    [InlineData("so 77 - 60 = 18\nAnswer: 18\n\n", 0, 1)] // wrong, well formed
    [InlineData("so 77 - 60 = 17\nAnswer: 17", 1, 0)] // cut before the blank line: right answer, no format reward
    [InlineData("Answer: 17\n\n", 1, 0)] // no reasoning
    [InlineData("so 77 - 60 = 17\nAnswer: 17\nmore\n\n", 1, 0)] // the answer line is not last
    [InlineData("so 77 - 60 = 17\n\n", 0, 0)] // no answer line
    [InlineData("so 77 - 60 = 17\nAnswer:\n\n", 0, 0)] // an empty answer
    public void Rewards_follow_the_rules(string completion, double accuracy, double format)
    {
        var r = SolutionTextFormat.Score(Sub, completion);
        Assert.Equal(accuracy, r.Accuracy);
        Assert.Equal(format, r.Format);
        Assert.Equal(accuracy + 0.1 * format, r.Total, 12);
    }

    [Fact]
    public void Countdown_answers_are_verified_as_expressions()
    {
        var p = new ReasoningProblem
        {
            Kind = TaskKind.Countdown, Difficulty = 1, Question = "Use 4, 1 to make 3.", Answer = "4 - 1", Reasoning = "4 - 1 = 3\nso 4 - 1 = 3",
            CanonicalKey = "cd:4,1:3", Numbers = [4, 1], Target = 3,
        };
        Assert.Equal(1, SolutionTextFormat.Score(p, "4 - 1 = 3\nAnswer: 4 - 1\n\n").Accuracy);
        Assert.Equal(0, SolutionTextFormat.Score(p, "3 = 3\nAnswer: 3\n\n").Accuracy); // the target alone uses no number
    }

    [Fact]
    public void Generated_traces_never_check_themselves()
    {
        var rng = new DeterministicRandom(3);
        for (int i = 0; i < 400; i++)
        {
            var p = ProblemGenerator.DrawTraining(ref rng, null);
            Assert.False(SelfCheck.Finds(p, p.Reasoning), p.Question + "\n" + p.Reasoning);
        }
    }

    [Theory]
    [InlineData("so 77 - 60 = 17\n17 + 60 = 77", true)] // recomputes the question's 77 from the answer
    [InlineData("so 77 - 60 = 17\n60 + 17 = 77", true)]
    [InlineData("so 77 - 60 = 17\ncheck: 17 + 60 = 77", true)]
    [InlineData("so 77 - 60 = 17\nVerify the digits", true)]
    [InlineData("17 + 60 = 77\nso 77 - 60 = 17", false)] // before the answer is reached: not a check of it
    [InlineData("so 77 - 60 = 17\n17 + 60 = 78", false)] // a wrong equation
    [InlineData("so 77 - 60 = 17\n17 + 3 = 20", false)] // right, but it recovers no number of the question
    [InlineData("so 77 - 60 = 17", false)]
    [InlineData("", false)]
    [InlineData("so 77 - 60 = 17\n17 + 99999999999999999999999 = 77", false)] // too many digits for a long: not a check, not a crash
    [InlineData("so 77 - 60 = 17\n17 * 9223372036854775807 = 77", false)] // an overflowing product
    public void Self_checks_are_recognised(string reasoning, bool check) => Assert.Equal(check, SelfCheck.Finds(Sub, reasoning));

    /// <summary>
    /// A rollout with a stop string ends at the token that completes it (kept), and is otherwise the completion the
    /// same seed draws without the stop; the format calls it ended, and one cut at the budget not.
    /// </summary>
    [Fact]
    public void Rollouts_stop_at_the_stop_string_and_keep_it()
    {
        var chat = RecipeConfigs.SmallFormat("Question: What is 12 + 30?\nSolution:\nones tens so\nAnswer: 42\n\n");
        var plain = new SolutionTextFormat(chat.Tokenizer);
        using var pool = new ComputePool(2);
        using var policy = new PolicyModel(RecipeConfigs.Tiny(chat.Tokenizer.VocabularySize), 7, pool);
        using var sampler = new RolloutSampler(policy.Model, pool, plain, 160);
        var rng = new DeterministicRandom(4);
        var prompt = plain.Prompt(ProblemGenerator.Generate(TaskKind.Arithmetic, 1, ref rng), thinking: true);
        var free = sampler.Generate([new RolloutRequest(prompt, 1f, 11)], 48)[0];
        Assert.True(free.Length >= 24, $"the free completion has {free.Length} tokens");
        // A stop string the free completion writes: the (ASCII) text of two of its tokens past its start.
        int at = Enumerable.Range(8, free.Length - 10).First(i => chat.Tokenizer.Decode(free[i..(i + 2)]) is { Length: > 0 } t && t.All(char.IsAscii));
        string stop = chat.Tokenizer.Decode(free[at..(at + 2)]);
        int end = Enumerable.Range(1, free.Length).First(n => chat.Tokenizer.Decode(free[..n]).Contains(stop, StringComparison.Ordinal));
        var stopped = sampler.Generate([new RolloutRequest(prompt, 1f, 11, [stop])], 48)[0];
        Assert.Equal(free[..end], stopped);
        Assert.Contains(stop, chat.Tokenizer.Decode(stopped), StringComparison.Ordinal);
    }

    [Fact]
    public void The_plain_format_ends_at_a_blank_line_or_end_of_sentence()
    {
        var plain = new SolutionTextFormat(RecipeConfigs.SmallFormat("so 1 + 1 = 2\nAnswer: 2\n\n").Tokenizer);
        var tokenizer = plain.Tokenizer;
        bool Ended(int[] completion) => plain.Judge(Sub, completion, thinking: true).Ended;
        Assert.True(Ended(tokenizer.Encode("so 1 + 1 = 2\nAnswer: 2\n\n")));
        Assert.True(Ended([.. tokenizer.Encode("so 1 + 1 = 2\nAnswer: 2"), plain.EndOfSentence]));
        Assert.False(Ended(tokenizer.Encode("so 1 + 1 = 2\nAnswer: 2")));
        Assert.False(Ended([]));
        Assert.Equal("so 1 + 1 = 2", plain.Judge(Sub, tokenizer.Encode("so 1 + 1 = 2\nAnswer: 2\n\n"), thinking: true).Reasoning);
        Assert.Equal(plain.Prompt(Sub, thinking: true), plain.Prompt(Sub, thinking: false));
    }
}
