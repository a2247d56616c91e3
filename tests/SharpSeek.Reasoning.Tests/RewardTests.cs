using SharpSeek.Reasoning.Tasks;

namespace SharpSeek.Reasoning.Tests;

public class RewardTests
{
    private static readonly ReasoningProblem Problem = new()
    {
        Kind = TaskKind.Expression, Difficulty = 2, Question = "Compute (3 + 4) * 5.", Answer = "35",
        Reasoning = "3 + 4 = 7\n7 * 5 = 35", CanonicalKey = "expr:(3 + 4) * 5",
    };

    private static readonly RewardFunction Rewards = new(formatWeight: 0.1);

    [Fact]
    public void Right_and_well_formed()
    {
        var r = Rewards.Score(Problem, "<think>\n3 + 4 = 7\n7 * 5 = 35\n</think>\n\n35<｜end▁of▁sentence｜>");
        Assert.Equal(1, r.Accuracy);
        Assert.Equal(1, r.Format);
        Assert.Equal(1.1, r.Total, 12);
        Assert.Equal("35", r.Answer);
    }

    [Fact]
    public void Wrong_but_well_formed()
    {
        var r = Rewards.Score(Problem, "<think>\n3 + 4 = 8\n</think>\n\n40");
        Assert.Equal(0, r.Accuracy);
        Assert.Equal(1, r.Format);
        Assert.Equal(0.1, r.Total, 12);
    }

    [Theory]
    [InlineData("<think>\n3 + 4 = 7\n7 * 5 = 35")]                  // never closes the think block: no answer
    [InlineData("35")]                                               // no think block at all
    [InlineData("<think>\n3 + 4 = 7\n</think>\n\n")]                // empty answer
    public void Malformed_without_answer_scores_nothing(string text)
    {
        var r = Rewards.Score(Problem, text);
        Assert.Equal(0, r.Accuracy);
        Assert.Equal(0, r.Format);
    }

    [Theory]
    [InlineData("<think>\n</think>\n\n35")]                          // empty reasoning
    [InlineData("<think>\nok\n</think>\n\n35\nmore text")]            // answer spills over lines
    [InlineData("<think>\nok\n</think>\n\n35<｜end▁of▁sentence｜>junk")] // text after the end of sentence
    [InlineData("<think>\nok\n</think>\n\n35</think>")]               // a second closing tag
    public void Malformed_format_loses_the_format_reward(string text)
    {
        Assert.Equal(0, Rewards.Score(Problem, text).Format);
    }

    [Fact]
    public void Format_alone_is_not_accuracy()
    {
        Assert.Equal(0, Rewards.Score(Problem, "<think>\nthe answer is 35\n</think>\n\nthirty-five").Accuracy);
    }
}
