using SharpSeek.Tensors;
using SharpSeek.Reasoning.Evaluation;
using SharpSeek.Reasoning.Generation;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Reasoning.Training;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training.Data;

namespace SharpSeek.Reasoning.Recipe;

/// <summary>The recipe's reinforcement-learning stage: GRPO with rule-based rewards, its monitor and its data-parallel split.</summary>
public sealed partial class R1Recipe
{
    /// <summary>
    /// One GRPO run: its name (curves, seeds, progress), length, token budget and peak learning rate, and the cells it
    /// draws prompts from (null: the recipe's task and difficulty lists); the rest is the recipe's GRPO settings.
    /// </summary>
    private sealed record GrpoRun(string Name, int Steps, int MaxNewTokens, double LearningRate, IReadOnlyList<(TaskKind Kind, int Difficulty)>? Cells = null);

    /// <summary>
    /// GRPO: each step samples G completions for each of P training prompts from the current policy, scores them
    /// with the rule-based rewards, computes group-relative advantages, then takes μ optimizer steps on the clipped
    /// objective with the k3 KL to the policy it started from (frozen); old log-probabilities come from the policy that
    /// sampled. The format decides the prompts and the rewards: the R1 chat after SFT, the plain text for R1-Zero.
    /// </summary>
    private void Grpo(PolicyModel policy, ProblemFormat format, ComputePool pool, CurveLog curves, GrpoRun run)
    {
        using var reference = policy.Snapshot();
        using var sampler = new RolloutSampler(policy.Model, pool, format, _s.MaxContext, _world);
        policy.BiasUpdateSpeed = _s.GrpoBiasUpdateSpeed;
        var rng = new DeterministicRandom(DeterministicRandom.SeedFor(_s.Seed, run.Name));
        int g = _s.GrpoGroup;
        int candidates = _s.GrpoPrompts * Math.Max(1, _s.GrpoOversample);
        if (_s.GrpoEvalEvery > 0) MonitorGrpo(policy, format, pool, curves, run, 0);
        for (int step = 0; step < run.Steps; step++)
        {
            double lr = run.LearningRate * Math.Min(1.0, (step + 1) / (double)Math.Max(1, _s.GrpoWarmupSteps));
            var problems = new List<ReasoningProblem>();
            var requests = new List<RolloutRequest>();
            for (int i = 0; i < candidates; i++)
            {
                var p = run.Cells is { } trainOn
                    ? GrpoRoom.Draw(ref rng, trainOn, _s.GrpoRoom?.OtherShare ?? 0, _s.GrpoDifficulties, _s.GrpoTasks)
                    : ProblemGenerator.DrawTraining(ref rng, _s.GrpoDifficulties, _s.GrpoTasks);
                problems.Add(p);
                var prompt = format.Prompt(p, thinking: true);
                for (int j = 0; j < g; j++)
                    requests.Add(new RolloutRequest(prompt, _s.GrpoTemperature, DeterministicRandom.SeedFor(_s.Seed, $"{run.Name}/{step}/{i}/{j}"), format.StopStrings));
            }
            sampler.Sync();
            // Split over the ranks by prompt (a group's G samples together); every rank gets every completion back.
            var completions = sampler.Generate(requests, run.MaxNewTokens, group: g);
            AddCompute(run.Name, requests.Sum(r => (double)r.Prompt.Length) + completions.Sum(c => (double)c.Length));

            var allRewards = new double[requests.Count];
            var cut = new bool[requests.Count];
            double accuracy = 0, formatOk = 0, length = 0, checks = 0;
            for (int i = 0; i < requests.Count; i++)
            {
                var (reward, reasoning, ended) = format.Judge(problems[i / g], completions[i], thinking: true);
                allRewards[i] = reward.Total;
                accuracy += reward.Accuracy;
                formatOk += reward.Format;
                length += completions[i].Length;
                cut[i] = !ended;
                if (SelfCheck.Finds(problems[i / g], reasoning)) checks++;
            }
            // Keep the first groups (in draw order, so the choice is deterministic) whose rewards are not all equal.
            var kept = new List<int>();
            for (int group = 0; group < candidates && kept.Count < _s.GrpoPrompts; group++)
            {
                var span = allRewards.AsSpan(group * g, g);
                bool varies = false;
                foreach (double r in span) varies |= r != span[0];
                if (varies) kept.Add(group);
            }
            if (kept.Count == 0) kept.Add(0);
            var rewardValues = new double[kept.Count * g];
            var examples = new List<SupervisedExample>(rewardValues.Length);
            for (int k = 0; k < kept.Count; k++)
                for (int j = 0; j < g; j++)
                {
                    int i = kept[k] * g + j;
                    rewardValues[k * g + j] = allRewards[i];
                    examples.Add(GrpoObjective.ResponseExample(requests[i].Prompt, completions[i], cut[i], _s.Grpo));
                }
            double informativeGroups = 0;
            for (int group = 0; group < candidates; group++)
            {
                var span = allRewards.AsSpan(group * g, g);
                bool varies = false;
                foreach (double r in span) varies |= r != span[0];
                if (varies) informativeGroups++;
            }
            var advantages = GrpoObjective.GroupAdvantages(rewardValues, g, _s.Grpo.ScaleAdvantagesByStd);
            var whole = PolicyModel.Pack(examples, format.Padding);
            var wholeOwner = RowOwners(whole, examples);
            // Data parallel: each rank updates on its share of the kept groups (whole groups: a response's tokens stay on
            // one rank), packed to the whole batch's width, with the objective divided by the whole batch's counts.
            var (firstGroup, groupCount) = RankShare.Of(kept.Count, _world.Rank, _world.Size);
            var batch = groupCount == 0 ? null : whole.Slice(firstGroup * g, groupCount * g);
            var owner = groupCount == kept.Count ? wholeOwner : wholeOwner.AsSpan(firstGroup * g * whole.SequenceLength, groupCount * g * whole.SequenceLength).ToArray();
            GrpoNormalizer? normalizer = _world.Size > 1 ? GrpoNormalizer.Of(wholeOwner) : null;
            var old = batch is null ? [] : policy.TokenLogProbs(batch);
            var refLogProbs = _s.Grpo.KlBeta > 0 && batch is not null ? reference.TokenLogProbs(batch) : old;
            AddCompute(run.Name, (_s.Grpo.KlBeta > 0 ? 2.0 : 1.0) * whole.Positions);
            GrpoStatistics last = default;
            // Nothing to learn from equal rewards, or when overlong filtering left no response token to train.
            bool informative = advantages.Any(a => a != 0) && wholeOwner.Any(o => o >= 0);
            for (int u = 0; u < _s.GrpoUpdates && informative; u++)
            {
                GrpoStatistics stats = default;
                policy.PolicyStep(batch, logp =>
                {
                    var (objective, s) = GrpoObjective.Evaluate(_s.Grpo, logp, old, refLogProbs, owner, advantages, normalizer);
                    stats = s;
                    return objective;
                }, lr);
                last = stats;
                AddCompute(run.Name, 3.0 * whole.Positions);
            }
            if (informative && _world.Size > 1) last = Combine(last);
            if (_s.Grpo.KlBeta == 0 || !informative)
            {
                // With β = 0 (or no update) the KL is still worth watching: measure it against the reference.
                var now = batch is null ? [] : policy.TokenLogProbs(batch);
                var refNow = batch is null ? [] : reference.TokenLogProbs(batch);
                AddCompute(run.Name, 2.0 * whole.Positions);
                double kl = 0;
                int n = 0;
                for (int r = 0; r < owner.Length; r++)
                    if (owner[r] >= 0) { kl += GrpoObjective.K3(now[r], refNow[r]); n++; }
                if (_world.Size > 1)
                {
                    double[] sums = [kl, n];
                    _world.AllReduceSum(sums);
                    (kl, n) = (sums[0], (int)sums[1]);
                }
                last = last with { MeanKl = n > 0 ? kl / n : 0 };
            }
            int count = requests.Count;
            var metrics = new Dictionary<string, double>
            {
                ["reward"] = allRewards.Average(), ["accuracy"] = accuracy / count, ["format"] = formatOk / count,
                ["informative_groups"] = informativeGroups / candidates,
                ["response_tokens"] = length / count, ["cut_responses"] = cut.Count(c => c) / (double)count, ["self_check"] = checks / count,
                ["kl"] = last.MeanKl, ["clip_fraction"] = last.ClipFraction, ["loss"] = last.Loss,
            };
            curves.Record(run.Name, step + 1, metrics);
            Report(run.Name, step + 1, run.Steps, $"reward {metrics["reward"]:F2} acc {metrics["accuracy"]:P0} len {metrics["response_tokens"]:F0}");
            if (_s.GrpoEvalEvery > 0 && ((step + 1) % _s.GrpoEvalEvery == 0 || step + 1 == run.Steps))
                MonitorGrpo(policy, format, pool, curves, run, step + 1);
        }
    }

    /// <summary>The objective's statistics of the whole batch from each rank's share: losses add up (each is divided by the whole batch's counts), KL and clipping are token means.</summary>
    private GrpoStatistics Combine(GrpoStatistics mine)
    {
        double[] sums = [mine.Loss, mine.MeanKl * mine.Tokens, mine.ClipFraction * mine.Tokens, mine.Tokens];
        _world.AllReduceSum(sums);
        int tokens = (int)sums[3];
        return new GrpoStatistics(sums[0], tokens > 0 ? sums[1] / tokens : 0, tokens > 0 ? Math.Round(sums[2]) / tokens : 0, tokens);
    }

    /// <summary>Held-out pass@1 with thinking, per difficulty, as the "{run}-eval" curve (a small sample: a trend, not the table).</summary>
    private void MonitorGrpo(PolicyModel policy, ProblemFormat format, ComputePool pool, CurveLog curves, GrpoRun run, int step)
    {
        using var sampler = new RolloutSampler(policy.Model, pool, format, _s.MaxContext, _world);
        var cells = ReasoningEvaluator.Evaluate($"{run.Name}-eval", sampler, format, _s.GrpoEvaluation with
        {
            // The dev split: the curve is watched while training, so it must not be the table's test problems.
            Split = DataSplit.Dev, Seed = DeterministicRandom.SeedFor(_s.Seed, $"{run.Name}-monitor"), MaxNewTokens = run.MaxNewTokens,
        }, [true]);
        var values = new Dictionary<string, double> { ["all"] = ReasoningEvaluator.Pooled(cells, c => c.PassAt1) };
        foreach (var level in cells.GroupBy(c => c.Difficulty)) values[$"D{level.Key}"] = ReasoningEvaluator.Pooled(level, c => c.PassAt1);
        // Per task family too: choices such as which families GRPO trains on are made on this split, never on test.
        foreach (var kind in cells.GroupBy(c => c.Kind)) values[kind.Key.ToString()] = ReasoningEvaluator.Pooled(kind, c => c.PassAt1);
        if (run.Cells is { } trainOn)
            values["trained cells"] = ReasoningEvaluator.Pooled(cells.Where(c => trainOn.Contains((c.Kind, c.Difficulty))), c => c.PassAt1);
        curves.Record($"{run.Name}-eval", step, values);
        Log($"{run.Name} step {step}: dev pass@1 " + string.Join(", ", values.Select(v => FormattableString.Invariant($"{v.Key} {100 * v.Value:F1} %"))));
    }

    /// <summary>For each position of the packed batch: the index of the response whose token it predicts, or −1.</summary>
    private static int[] RowOwners(TokenBatch batch, List<SupervisedExample> examples)
    {
        int t = batch.SequenceLength;
        var owner = new int[batch.Positions];
        Array.Fill(owner, -1);
        for (int b = 0; b < examples.Count; b++)
        {
            var mask = examples[b].LossMask;
            for (int i = 0; i < t && i + 1 < mask.Length; i++)
                if (mask[i + 1]) owner[b * t + i] = b;
        }
        return owner;
    }
}
