using SharpSeek.Tensors;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Training;

namespace SharpSeek.Reasoning.Tests;

public class TaskTests
{
    private static ReasoningProblem Make(TaskKind kind, int difficulty, ulong seed = 7)
    {
        var rng = new DeterministicRandom(seed);
        return ProblemGenerator.Generate(kind, difficulty, ref rng);
    }

    public static TheoryData<TaskKind, int> AllCells()
    {
        var data = new TheoryData<TaskKind, int>();
        foreach (var k in ProblemGenerator.Kinds)
            for (int d = 1; d <= ProblemGenerator.MaxDifficulty; d++) data.Add(k, d);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllCells))]
    public void Reference_answers_verify_and_traces_end_at_them(TaskKind kind, int difficulty)
    {
        var rng = new DeterministicRandom(11);
        for (int i = 0; i < 300; i++)
        {
            var p = ProblemGenerator.Generate(kind, difficulty, ref rng);
            Assert.True(AnswerVerifier.IsCorrect(p, p.Answer), $"{p.Question} -> {p.Answer}");
            Assert.Contains("= ", p.Reasoning);
            if (kind != TaskKind.Countdown) Assert.EndsWith(p.Answer + (kind == TaskKind.WordProblem ? p.Reasoning[p.Reasoning.LastIndexOf(' ')..] : ""), p.Reasoning);
        }
    }

    [Fact]
    public void Column_traces_are_arithmetically_right()
    {
        // 347 + 85: 7+5=12 carry 1, 4+8+1=13 carry 1, 3+0+1=4.
        var rng = new DeterministicRandom(1);
        ReasoningProblem? p = null;
        for (int i = 0; i < 5000 && p is null; i++)
        {
            var q = ProblemGenerator.Generate(TaskKind.Arithmetic, 2, ref rng);
            if (q.Question == "What is 347 + 85?") p = q;
        }
        string expected = "ones: 7 + 5 = 12, write 2 carry 1\ntens: 4 + 8 + 1 = 13, write 3 carry 1\nhundreds: 3 + 0 + 1 = 4\nso 347 + 85 = 432";
        if (p is not null) Assert.Equal(expected, p.Reasoning);
        var sub = Make(TaskKind.Arithmetic, 1);
        Assert.True(AnswerVerifier.IsCorrect(sub, sub.Answer));
    }

    [Theory]
    [InlineData("432", true)]
    [InlineData(" 432. ", true)]
    [InlineData("433", false)]
    [InlineData("-432", false)]
    [InlineData("432 apples", false)]
    [InlineData("four hundred", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Integer_answers(string? answer, bool correct)
    {
        var p = new ReasoningProblem { Kind = TaskKind.Arithmetic, Difficulty = 2, Question = "What is 347 + 85?", Answer = "432", Reasoning = "", CanonicalKey = "arith:347+85" };
        Assert.Equal(correct, AnswerVerifier.IsCorrect(p, answer));
    }

    [Theory]
    [InlineData("(8 * 3) + 5", true)]
    [InlineData("5 + 8 * 3", true)]
    [InlineData("8*3+5", true)]
    [InlineData("(5 + 8) * 3", false)]     // 39: wrong value
    [InlineData("8 * 3 + 5 + 5", false)]   // 5 used twice
    [InlineData("8 * 4 - 3", false)]       // 4 is not given
    [InlineData("29", false)]              // the target itself is not a given number
    [InlineData("(8 * 3 + 5", false)]      // unbalanced
    [InlineData("8 * 3 + 5 =", false)]     // trailing junk
    [InlineData("", false)]
    public void Countdown_answers(string answer, bool correct)
    {
        var p = new ReasoningProblem
        {
            Kind = TaskKind.Countdown, Difficulty = 2, Question = "Use 5, 8, 3 to make 29.", Answer = "(8 * 3) + 5", Reasoning = "",
            CanonicalKey = "countdown:3,5,8->29", Numbers = [5, 8, 3], Target = 29,
        };
        Assert.Equal(correct, AnswerVerifier.IsCorrect(p, answer));
    }

    [Fact]
    public void Countdown_division_is_exact()
    {
        Assert.True(AnswerVerifier.ReachesTarget("(7 / 2) * 2", [7, 2, 2], 7));
        Assert.False(AnswerVerifier.ReachesTarget("7 / 2", [7, 2], 3));
        Assert.False(AnswerVerifier.ReachesTarget("7 / (2 - 2)", [7, 2, 2], 0));
    }

    [Fact]
    public void Held_out_split_never_overlaps_training()
    {
        // The split is a function of the canonical key alone, so disjointness holds by construction; check it on a
        // large sample of both sides and that each side really is what the split function says.
        var train = new HashSet<string>();
        var heldOut = new HashSet<string>();
        foreach (var kind in ProblemGenerator.Kinds)
            for (int d = 1; d <= ProblemGenerator.MaxDifficulty; d++)
            {
                var rng = new DeterministicRandom(DeterministicRandom.SeedFor(3, $"{kind}{d}"));
                for (int i = 0; i < 1500; i++)
                {
                    train.Add(ProblemGenerator.Generate(kind, d, DataSplit.Train, ref rng).CanonicalKey);
                    heldOut.Add(ProblemGenerator.Generate(kind, d, DataSplit.HeldOut, ref rng).CanonicalKey);
                }
            }
        Assert.Empty(train.Intersect(heldOut));
        Assert.All(train, k => Assert.Equal(DataSplit.Train, ProblemSplit.Of(k)));
        Assert.All(heldOut, k => Assert.Equal(DataSplit.HeldOut, ProblemSplit.Of(k)));
        Assert.True(heldOut.Count > 1000);
    }

    [Fact]
    public void Split_is_exhaustively_disjoint_on_the_easiest_arithmetic_space()
    {
        // Difficulty-1 arithmetic has 90·90·2 problems: enumerate every key and count both sides.
        int held = 0, total = 0;
        for (int a = 10; a <= 99; a++)
            for (int b = 10; b <= 99; b++)
                foreach (char op in "+-")
                {
                    if (op == '-' && a < b) continue;
                    total++;
                    if (ProblemSplit.Of($"arith:{a}{op}{b}") == DataSplit.HeldOut) held++;
                }
        double share = (double)held / total;
        Assert.InRange(share, 0.15, 0.25);
    }

    [Fact]
    public void Surface_variants_share_a_key()
    {
        var rng = new DeterministicRandom(5);
        var seen = new Dictionary<string, string>();
        for (int i = 0; i < 3000; i++)
        {
            var p = ProblemGenerator.Generate(TaskKind.WordProblem, 1, ref rng);
            if (seen.TryGetValue(p.CanonicalKey, out var answer)) Assert.Equal(answer, p.Answer);
            else seen[p.CanonicalKey] = p.Answer;
        }
    }

    [Fact]
    public void Bad_difficulty_is_rejected()
    {
        var rng = new DeterministicRandom(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => ProblemGenerator.Generate(TaskKind.Arithmetic, 0, ref rng));
        Assert.Throws<ArgumentOutOfRangeException>(() => ProblemGenerator.Generate(TaskKind.Arithmetic, 4, ref rng));
    }

    [Fact]
    public void Training_draws_follow_the_difficulty_list_and_stay_on_the_training_split()
    {
        var rng = new DeterministicRandom(3);
        var counts = new Dictionary<int, int>();
        var kinds = new HashSet<TaskKind>();
        for (int i = 0; i < 3000; i++)
        {
            var p = ProblemGenerator.DrawTraining(ref rng, [1, 1, 3]);
            Assert.Equal(DataSplit.Train, ProblemSplit.Of(p));
            counts[p.Difficulty] = counts.GetValueOrDefault(p.Difficulty) + 1;
            kinds.Add(p.Kind);
        }
        Assert.Equal([1, 3], counts.Keys.Order());
        Assert.InRange(counts[1] / (double)counts[3], 1.8, 2.2); // listed twice: drawn twice as often
        Assert.Equal(ProblemGenerator.Kinds.Count, kinds.Count);

        // Without a list every difficulty appears.
        var all = new HashSet<int>();
        for (int i = 0; i < 300; i++) all.Add(ProblemGenerator.DrawTraining(ref rng, null).Difficulty);
        Assert.Equal(ProblemGenerator.MaxDifficulty, all.Count);
        Assert.Throws<ArgumentException>(() => ProblemGenerator.DrawTraining(ref rng, []));
    }
}
