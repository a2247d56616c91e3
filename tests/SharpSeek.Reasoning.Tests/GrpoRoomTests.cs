using SharpSeek.Reasoning.Evaluation;
using SharpSeek.Reasoning.Recipe;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Tensors;

namespace SharpSeek.Reasoning.Tests;

/// <summary>Choosing where GRPO trains: cells where pass@k clearly exceeds pass@1 on dev, and draws from those cells only.</summary>
public sealed class GrpoRoomTests
{
    private static EvaluationCell Cell(TaskKind kind, int difficulty, params int[] correct)
    {
        const int Samples = 16;
        return new EvaluationCell("probe", true, kind, difficulty, correct.Length, correct.Sum() / (double)(Samples * correct.Length), 0, 40)
        {
            Solved = new ProblemScores(Samples, correct),
        };
    }

    [Fact]
    public void Cells_the_model_solves_sometimes_are_chosen_and_solved_or_hopeless_ones_are_not()
    {
        var probe = new[]
        {
            Cell(TaskKind.Arithmetic, 1, 16, 16, 16, 15),   // solved: pass@1 0.98, pass@16 1
            Cell(TaskKind.Countdown, 2, 0, 0, 3, 2),        // partly right: pass@1 0.08, pass@16 0.5
            Cell(TaskKind.Countdown, 3, 0, 0, 0, 0),        // hopeless: no signal for RL
            Cell(TaskKind.Expression, 2, 8, 8, 8, 8),       // every problem half the time: pass@16 ≈ 1, room ≈ 0.5
            Cell(TaskKind.WordProblem, 2, 1, 0, 0, 0),      // one problem once: pass@16 0.25, room 0.23
        };
        var rooms = GrpoRoom.Measure(probe, [1, 2, 3], 0.2);
        Assert.Equal(probe.Length, rooms.Count);
        Assert.Equal([false, true, false, true, true], rooms.Select(r => r.Chosen));
        Assert.Equal(0.5, rooms[1].PassAtK, 12);
        Assert.Equal(2 / 16.0 / 4 + 3 / 16.0 / 4, rooms[1].PassAt1, 12);
        Assert.Equal(rooms[1].PassAtK - rooms[1].PassAt1, rooms[1].Room, 12);
        // A stricter margin keeps only the widest room; a difficulty outside GRPO's list is never a candidate.
        Assert.Equal([TaskKind.Expression, TaskKind.Countdown],
            GrpoRoom.Measure(probe, [1, 2, 3], 0.4).Where(r => r.Chosen).Select(r => r.Kind).Order());
        Assert.DoesNotContain(GrpoRoom.Measure(probe, [1, 3], 0), r => r.Difficulty == 2);
        Assert.All(GrpoRoom.Measure(probe, [1, 2, 3], 0), r => Assert.True(r.Chosen)); // margin 0: pass@k ≥ pass@1 always
    }

    [Fact]
    public void Drawing_from_cells_keeps_to_those_cells_and_the_training_split()
    {
        var rng = new DeterministicRandom(7);
        (TaskKind, int)[] cells = [(TaskKind.Countdown, 2), (TaskKind.Arithmetic, 3)];
        var seen = new HashSet<(TaskKind, int)>();
        for (int i = 0; i < 400; i++)
        {
            var p = ProblemGenerator.DrawTrainingFrom(ref rng, cells);
            Assert.Contains((p.Kind, p.Difficulty), cells);
            Assert.Equal(DataSplit.Train, ProblemSplit.Of(p));
            seen.Add((p.Kind, p.Difficulty));
        }
        Assert.Equal(2, seen.Count);
        Assert.Throws<ArgumentException>(() => { var r = new DeterministicRandom(1); ProblemGenerator.DrawTrainingFrom(ref r, []); });
    }

    [Fact]
    public void A_share_of_prompts_comes_from_every_candidate_cell_and_a_share_of_zero_draws_as_the_chosen_cells_alone()
    {
        (TaskKind, int)[] chosen = [(TaskKind.Countdown, 2)];
        int[] difficulties = [1, 2, 3];
        // Share 0 consumes the random stream exactly as drawing from the chosen cells does (runs without a mix are unchanged).
        var a = new DeterministicRandom(3);
        var b = new DeterministicRandom(3);
        for (int i = 0; i < 50; i++)
            Assert.Equal(ProblemGenerator.DrawTrainingFrom(ref a, chosen).CanonicalKey, GrpoRoom.Draw(ref b, chosen, 0, difficulties, null).CanonicalKey);

        var rng = new DeterministicRandom(11);
        int outside = 0;
        const int Draws = 2000;
        var kinds = new HashSet<TaskKind>();
        for (int i = 0; i < Draws; i++)
        {
            var p = GrpoRoom.Draw(ref rng, chosen, 0.25, difficulties, [TaskKind.Arithmetic, TaskKind.Countdown]);
            Assert.Contains(p.Kind, new[] { TaskKind.Arithmetic, TaskKind.Countdown }); // the task list still bounds the mix
            Assert.Equal(DataSplit.Train, ProblemSplit.Of(p));
            kinds.Add(p.Kind);
            if ((p.Kind, p.Difficulty) != (TaskKind.Countdown, 2)) outside++;
        }
        // A quarter of the draws are from all 6 candidate cells, 5 of which are not the chosen one: 2000 · 0.25 · 5/6 ≈ 417.
        Assert.InRange(outside, 340, 500);
        Assert.Equal(2, kinds.Count);
    }
}
