using SharpSeek.Reasoning.Evaluation;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Reasoning.Training;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Reasoning.Recipe;

/// <summary>R1's last two stages: rejection-sampled SFT from the RL policy's verified traces, then a second GRPO round.</summary>
public sealed partial class R1Recipe
{
    /// <summary>Eval-table stages of the rejection-sampled SFT model and of the second GRPO round.</summary>
    public const string RejectionStage = "rejection-sampled SFT", SecondRoundStage = "GRPO, second round";

    /// <summary>
    /// As DeepSeek-R1 after its reasoning RL: the RL policy answers <see cref="RecipeSettings.RejectionProblems"/> fresh
    /// training problems (rejection sampling with the distillation teacher's settings: only correct, well-formed traces
    /// are kept), a copy of the pretrained model (with pretraining's optimizer state) is fine-tuned on them, mixed with
    /// the off-topic chats, and GRPO runs again from there. Returns the two stages' eval cells and the final policy,
    /// which the caller owns.
    /// </summary>
    private (List<EvaluationCell> Cells, PolicyModel Final) Rejection(int replica, PolicyModel start, PolicyModel rl, ReasoningChatFormat format,
        ComputePool pool, CurveLog curves, bool[] modes)
    {
        var cells = new List<EvaluationCell>();
        void Add(List<EvaluationCell> stageCells) => cells.AddRange(stageCells.Select(c => c with { Replica = replica }));
        string name = Named("rejection", replica);
        var rng = new DeterministicRandom(DeterministicRandom.SeedFor(_s.Seed, name));
        var problems = new List<ReasoningProblem>();
        for (int i = 0; i < _s.RejectionProblems; i++) problems.Add(ProblemGenerator.DrawTraining(ref rng, null));
        var traces = Timed(name, () => VerifiedTraces(rl, format, pool, problems, name, name));
        Log($"{name}: {traces.Count} verified traces for {traces.Select(t => t.Problem.CanonicalKey).Distinct().Count()} of {problems.Count} problems");

        using var second = start.Fork();
        string sft = Named("rejection-sft", replica);
        int steps = _s.RejectionSftSteps > 0 ? _s.RejectionSftSteps : _s.SftSteps;
        Timed(sft, () => Supervised(sft, second, format, curves, steps, _s.SftBatch, _s.SftLearningRate, (ref DeterministicRandom r) =>
        {
            if (OffTopicExample(format, ref r) is { } chat) return chat;
            var (p, completion) = traces[r.NextInt(traces.Count)];
            return format.Example(p, completion);
        }));
        Timed(Named("eval rejection-sft", replica), () => Add(Evaluate(RejectionStage, second, format, pool, modes)));

        var final = second.Snapshot();
        try
        {
            string grpo = Named("grpo-2", replica);
            var trainOn = GrpoCells(grpo, replica, second, format, pool);
            Timed(grpo, () => Grpo(final, format, pool, curves, new GrpoRun(grpo, _s.GrpoSteps, _s.GrpoMaxNewTokens, _s.GrpoLearningRate, trainOn)));
            Timed(Named("eval grpo-2", replica), () => Add(Evaluate(SecondRoundStage, final, format, pool, modes)));
            Timed(Named("off-topic grpo-2", replica), () => OffTopicReplies(SecondRoundStage, final, format, pool, replica));
            return (cells, final);
        }
        catch
        {
            final.Dispose();
            throw;
        }
    }
}
