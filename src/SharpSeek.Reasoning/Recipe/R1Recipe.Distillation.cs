using SharpSeek.Tensors;
using SharpSeek.Reasoning.Evaluation;
using SharpSeek.Reasoning.Generation;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Reasoning.Training;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Reasoning.Recipe;

/// <summary>The recipe's last stage: the final model's verified traces distilled into a smaller student, against plain answers.</summary>
public sealed partial class R1Recipe
{
    /// <summary>
    /// R1's distillation at toy scale: the final policy writes reasoning for training problems, only verified-correct
    /// traces are kept (rejection sampling), and a smaller student is fine-tuned on them; a twin student (same
    /// initialisation, steps and problems) is fine-tuned on the bare answers. Both are judged on held-out problems.
    /// </summary>
    private DistillationResult Distill(PolicyModel teacher, ReasoningChatFormat format, ComputePool pool, CurveLog curves)
    {
        var rng = new DeterministicRandom(DeterministicRandom.SeedFor(_s.Seed, "distill"));
        var problems = new List<ReasoningProblem>();
        for (int i = 0; i < _s.DistillProblems; i++) problems.Add(ProblemGenerator.DrawTraining(ref rng, null));
        var traces = VerifiedTraces(teacher, format, pool, problems, "distill", "distill: teacher traces");
        Log($"distillation: {traces.Count} verified teacher traces for {traces.Select(t => t.Problem.CanonicalKey).Distinct().Count()} of {problems.Count} problems");

        var studentConfig = _s.Student with { VocabSize = format.Tokenizer.VocabularySize };
        var evaluation = _s.Evaluation with { Seed = _s.Seed };
        var cells = new List<EvaluationCell>();
        // R1 distils into pretrained base models; the student base is pretrained on the same worked-solution text, then
        // both fine-tunes start from copies of it, so the only difference between them is the SFT targets.
        using var studentBase = new PolicyModel(studentConfig, DeterministicRandom.SeedFor(_s.Seed, "student"), pool, world: _world);
        Pretrain("student-pretrain", _s.DistillPretrainSteps, studentBase, format, curves);
        foreach (bool withTraces in new[] { true, false })
        {
            string stage = withTraces ? "student (teacher traces)" : "student (plain answers)";
            using var student = studentBase.Snapshot();
            Supervised(withTraces ? "distill-traces" : "distill-plain", student, format, curves, _s.DistillSteps, _s.DistillBatch, _s.DistillLearningRate,
                (ref DeterministicRandom r) =>
                {
                    var (p, completion) = traces[r.NextInt(traces.Count)];
                    return format.Example(p, withTraces ? completion : ReasoningChatFormat.PlainCompletion(p));
                });
            using var sampler = new RolloutSampler(student.Model, pool, format, _s.MaxContext, _world);
            cells.AddRange(ReasoningEvaluator.Evaluate(stage, sampler, format, evaluation, [true],
                f => Report($"eval {stage}", (int)Math.Round(f * 1000), 1000, "")));
        }
        double traced = ReasoningEvaluator.Pooled(cells.Where(c => c.Stage.Contains("traces")), c => c.PassAt1);
        double plain = ReasoningEvaluator.Pooled(cells.Where(c => c.Stage.Contains("plain")), c => c.PassAt1);
        return new DistillationResult(traces.Count, problems.Count, traced, plain, cells);
    }

    /// <summary>
    /// Rejection sampling: <see cref="RecipeSettings.DistillSamples"/> samples per problem from <paramref name="model"/>
    /// at <see cref="RecipeSettings.DistillTemperature"/>, keeping the traces that are correct and well formed
    /// (duplicates of a problem dropped), rewritten in the canonical trace layout. <paramref name="name"/> keys the
    /// sampling seeds. Never empty: with no verified trace, the first problem's reference trace stands in.
    /// </summary>
    private List<(ReasoningProblem Problem, string Completion)> VerifiedTraces(PolicyModel model, ReasoningChatFormat format, ComputePool pool,
        List<ReasoningProblem> problems, string name, string progressStage)
    {
        var traces = new List<(ReasoningProblem Problem, string Completion)>();
        using (var sampler = new RolloutSampler(model.Model, pool, format, _s.MaxContext, _world))
        {
            int samples = Math.Max(1, _s.DistillSamples);
            var requests = new List<RolloutRequest>(problems.Count * samples);
            for (int i = 0; i < problems.Count; i++)
                for (int k = 0; k < samples; k++)
                    requests.Add(new RolloutRequest(format.Prompt(problems[i], true), _s.DistillTemperature, DeterministicRandom.SeedFor(_s.Seed, $"{name}/{i}/{k}")));
            var rewards = new RewardFunction();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            // 64 requests per rank and call (split over the ranks; completions do not depend on the chunking).
            int chunkSize = 64 * _world.Size;
            for (int start = 0; start < requests.Count; start += chunkSize)
            {
                var chunk = requests.GetRange(start, Math.Min(chunkSize, requests.Count - start));
                var outputs = sampler.Generate(chunk, _s.GrpoMaxNewTokens);
                AddCompute(name, chunk.Sum(r => (double)r.Prompt.Length) + outputs.Sum(o => (double)o.Length));
                for (int i = 0; i < outputs.Count; i++)
                {
                    var p = problems[(start + i) / samples];
                    string text = format.Tokenizer.Decode(outputs[i]);
                    var reward = rewards.Score(p, ReasoningChatFormat.AssistantText(text, true));
                    if (reward.Accuracy > 0 && reward.Format > 0)
                    {
                        var parsed = RewardFunction.Parse(ReasoningChatFormat.AssistantText(text, true));
                        string completion = ReasoningChatFormat.TraceCompletion(parsed.Reasoning, parsed.Answer!);
                        // Identical samples of one problem would only re-weight it.
                        if (seen.Add(p.CanonicalKey + "\n" + completion)) traces.Add((p, completion));
                    }
                }
                Report(progressStage, Math.Min(start + chunkSize, requests.Count), requests.Count, $"{traces.Count} verified");
            }
        }
        if (traces.Count == 0) traces.AddRange(problems.Take(1).Select(p => (p, ReasoningChatFormat.TraceCompletion(p))));
        return traces;
    }
}
