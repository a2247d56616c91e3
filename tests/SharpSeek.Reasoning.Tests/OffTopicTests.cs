using SharpSeek.Reasoning.Recipe;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Tensors;
using SharpSeek.Tokenizer;

namespace SharpSeek.Reasoning.Tests;

/// <summary>Off-topic messages: split by their text, drawn for training only from the train split, and one reply recognised.</summary>
public sealed class OffTopicTests
{
    [Fact]
    public void The_splits_are_disjoint_and_training_draws_only_train_messages()
    {
        var train = OffTopic.Messages(DataSplit.Train);
        var dev = OffTopic.Messages(DataSplit.Dev);
        var test = OffTopic.Messages(DataSplit.Test);
        Assert.Equal(OffTopic.All.Count, train.Count + dev.Count + test.Count);
        Assert.Equal(OffTopic.All.Count, OffTopic.All.Distinct().Count());
        Assert.Empty(train.Intersect(test));
        Assert.Empty(train.Intersect(dev));
        Assert.True(test.Count >= 20, $"{test.Count} held-out messages");
        var rng = new DeterministicRandom(1);
        var drawn = new HashSet<string>();
        for (int i = 0; i < 5000; i++) drawn.Add(OffTopic.DrawTraining(ref rng));
        Assert.Subset(train.ToHashSet(), drawn);
        Assert.True(drawn.Count > train.Count * 9 / 10, "the draw reaches nearly every training message");
        // Off-topic messages carry no digits, so no arithmetic fact of any split hides in them.
        Assert.All(OffTopic.All, m => Assert.DoesNotContain(m, char.IsAsciiDigit));
    }

    [Fact]
    public void Only_the_well_formed_capability_reply_counts()
    {
        Assert.True(OffTopic.IsReply(OffTopic.Completion));
        Assert.Contains(OffTopic.Reply, OffTopic.Completion, StringComparison.Ordinal);
        Assert.False(OffTopic.IsReply("ones: 2 * 3 = 6\nso 12 * 3 = 36\n</think>\n\n36<｜end▁of▁sentence｜>"));
        Assert.False(OffTopic.IsReply(OffTopic.Reasoning + "\n</think>\n\n" + OffTopic.Reply[..40]));
        Assert.False(OffTopic.IsReply("\n</think>\n\n" + OffTopic.Reply + "<｜end▁of▁sentence｜>")); // no reasoning: not well formed
    }

    /// <summary>The taught completion fits the recipe's generation budget in the bundled model's vocabulary (else no reply could ever be complete).</summary>
    [Fact]
    public void The_reply_fits_the_generation_budget()
    {
        string? repo = AppContext.BaseDirectory;
        while (repo is not null && !File.Exists(Path.Combine(repo, "SharpSeek.slnx"))) repo = Path.GetDirectoryName(repo);
        var tokenizer = ByteLevelBpeTokenizer.FromDirectory(Path.Combine(repo!, "models", "sharpseek-r1-tiny"));
        int tokens = tokenizer.Encode(OffTopic.Completion).Length;
        int budget = new RecipeSettings { Model = RecipeSettings.BundledModel(512), Student = RecipeSettings.StudentModel(512) }.Evaluation.MaxNewTokens;
        Assert.True(tokens <= budget - 16, $"the off-topic completion takes {tokens} tokens of a {budget}-token budget");
    }
}
