using SharpSeek.Reasoning.Generation;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Reasoning.Training;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Reasoning.Tests;

/// <summary>Rollouts run through the serving engine, many per forward pass, without that changing any sample.</summary>
public sealed class RolloutTests
{
    /// <summary>
    /// A GRPO-like set (4 prompts × 4 seeded samples, mixed temperatures) gives the same completions whether the
    /// engine runs one sequence at a time or all sixteen in shared passes, and repeats exactly.
    /// </summary>
    [Fact]
    public void Rollouts_do_not_depend_on_how_many_run_at_once()
    {
        var format = RecipeConfigs.SmallFormat("What is 12 + 30? ones tens so answer carry digit sum");
        var tokenizer = format.Tokenizer;
        using var pool = new ComputePool(2);
        using var policy = new PolicyModel(RecipeConfigs.Tiny(tokenizer.VocabularySize), 5, pool);
        var rng = new DeterministicRandom(9);
        var requests = new List<RolloutRequest>();
        for (int i = 0; i < 4; i++)
        {
            var prompt = format.Prompt(ProblemGenerator.Generate(TaskKind.Arithmetic, 1, ref rng), thinking: true);
            for (int j = 0; j < 4; j++) requests.Add(new RolloutRequest(prompt, j == 0 ? 0f : 1f, (ulong)(10 * i + j)));
        }
        using var sampler = new RolloutSampler(policy.Model, pool, format, 160);
        var one = sampler.Generate(requests, 24, concurrency: 1);
        var sixteen = sampler.Generate(requests, 24, concurrency: 16);
        var again = sampler.Generate(requests, 24, concurrency: 16);
        for (int i = 0; i < requests.Count; i++)
        {
            Assert.Equal(one[i], sixteen[i]);
            Assert.Equal(sixteen[i], again[i]);
            Assert.InRange(one[i].Length, 1, 24);
            Assert.True(one[i].Length == 24 || one[i][^1] == format.EndOfSentence, "a rollout ends at end-of-sentence or the token limit");
        }
        // Sampled rollouts of one prompt differ (the seeds matter), so the comparison above is not trivially equal.
        Assert.True(one.Skip(1).Take(3).Distinct(new SequenceComparer()).Count() > 1);
    }

    private sealed class SequenceComparer : IEqualityComparer<int[]>
    {
        public bool Equals(int[]? a, int[]? b) => a!.SequenceEqual(b!);
        public int GetHashCode(int[] a) => a.Aggregate(17, (h, x) => h * 31 + x);
    }
}
