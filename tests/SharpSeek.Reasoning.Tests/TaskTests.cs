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
    [InlineData("3 * 8 + 5", true)]        // any order, every number once
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

    [Theory]
    [InlineData("5", false)]            // the target is one of the numbers: writing it down is not a solution
    [InlineData("2 + 3", false)]        // reaches 5 without using 5: partial use
    [InlineData("5 * 3 / 3", false)]    // 3 twice, 2 never
    [InlineData("5 * (3 - 2)", true)]   // every number exactly once
    [InlineData("(3 - 2) * 5", true)]
    public void Countdown_needs_every_number_once_so_trivial_and_partial_answers_fail(string answer, bool correct)
    {
        var p = new ReasoningProblem
        {
            Kind = TaskKind.Countdown, Difficulty = 2, Question = "Use 2, 3, 5 to make 5.", Answer = "5 * (3 - 2)", Reasoning = "",
            CanonicalKey = "countdown:2,3,5->5", Numbers = [2, 3, 5], Target = 5,
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
    public void Train_dev_and_test_share_no_fact_across_every_family()
    {
        // Every fact behind a problem (commuted and inverted twins normalised, word problems and expressions included)
        // lands on exactly one split, and a problem is drawn on a split only when all its facts are there.
        var facts = new Dictionary<DataSplit, HashSet<string>> { [DataSplit.Train] = [], [DataSplit.Dev] = [], [DataSplit.Test] = [] };
        var keys = new Dictionary<DataSplit, HashSet<string>> { [DataSplit.Train] = [], [DataSplit.Dev] = [], [DataSplit.Test] = [] };
        foreach (var kind in ProblemGenerator.Kinds)
            for (int d = 1; d <= ProblemGenerator.MaxDifficulty; d++)
            {
                var rng = new DeterministicRandom(DeterministicRandom.SeedFor(3, $"{kind}{d}"));
                foreach (var split in facts.Keys)
                    for (int i = 0; i < 300; i++)
                    {
                        var p = ProblemGenerator.Generate(kind, d, split, ref rng);
                        Assert.Equal(split, ProblemSplit.Of(p));
                        keys[split].Add(p.CanonicalKey);
                        foreach (string f in p.Facts.Count > 0 ? p.Facts : [p.CanonicalKey]) facts[split].Add(f);
                    }
            }
        foreach (var a in facts.Keys)
            foreach (var b in facts.Keys.Where(b => b > a))
            {
                Assert.Empty(facts[a].Intersect(facts[b]));
                Assert.Empty(keys[a].Intersect(keys[b]));
            }
        Assert.True(facts[DataSplit.Test].Count > 1000 && facts[DataSplit.Dev].Count > 500);
    }

    [Fact]
    public void Commuted_inverted_and_reworded_twins_are_one_fact()
    {
        Assert.Equal(ProblemSplit.Fact(12, '+', 34, 46), ProblemSplit.Fact(34, '+', 12, 46));
        Assert.Equal(ProblemSplit.Fact(12, '+', 34, 46), ProblemSplit.Fact(46, '-', 12, 34));
        Assert.Equal(ProblemSplit.Fact(7, '*', 8, 56), ProblemSplit.Fact(56, '/', 7, 8));
        // "What is 34 + 12?" and "What is 12 + 34?" are one problem; a story that adds 34 to 12 rests on the same fact.
        var rng = new DeterministicRandom(9);
        ReasoningProblem? sum = null, word = null;
        for (int i = 0; i < 200_000 && (sum is null || word is null); i++)
        {
            var p = ProblemGenerator.Generate(i % 2 == 0 ? TaskKind.Arithmetic : TaskKind.WordProblem, 1, ref rng);
            if (p.Facts.Contains("sum:12,34")) { if (p.Kind == TaskKind.Arithmetic) sum ??= p; else word ??= p; }
        }
        Assert.NotNull(sum);
        Assert.NotNull(word);
        Assert.Equal(ProblemSplit.Of(sum!), ProblemSplit.Of(word!));
        // Commuted sums share one canonical key: the key orders the operands whatever order the question used.
        for (int i = 0; i < 2000; i++)
        {
            var p = ProblemGenerator.Generate(TaskKind.Arithmetic, 1, ref rng);
            if (!p.CanonicalKey.Contains('+')) continue;
            var operands = p.CanonicalKey["arith:".Length..].Split('+').Select(long.Parse).ToArray();
            Assert.True(operands[0] <= operands[1], p.CanonicalKey);
        }
    }

    [Fact]
    public void Split_shares_hold_on_the_easiest_arithmetic_space()
    {
        // Difficulty-1 arithmetic: every a ± b over two-digit numbers, counted by the split of its fact.
        var counts = new Dictionary<DataSplit, int>();
        for (int a = 10; a <= 99; a++)
            for (int b = 10; b <= 99; b++)
                foreach (char op in "+-")
                {
                    if (op == '-' && a < b) continue;
                    var split = ProblemSplit.Of(ProblemSplit.Fact(a, op, b, op == '+' ? a + b : a - b));
                    counts[split] = counts.GetValueOrDefault(split) + 1;
                }
        double total = counts.Values.Sum();
        Assert.InRange(counts[DataSplit.Test] / total, 0.11, 0.19);
        Assert.InRange(counts[DataSplit.Dev] / total, 0.07, 0.13);
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
