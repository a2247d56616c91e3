using SharpSeek.Reasoning.Evaluation;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Reasoning.Training;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training.Checkpoints;

namespace SharpSeek.Reasoning.Recipe;

/// <summary>
/// The R1 line after pretraining, once per fine-tuning seed: cold-start SFT, GRPO from the SFT weights, and the
/// compute-matched control (the SFT model trained on more traces for as much compute as GRPO spent).
/// </summary>
public sealed partial class R1Recipe
{
    /// <summary>Eval-table stage of the compute-matched control.</summary>
    public const string ControlStage = "SFT, compute-matched";

    /// <summary>
    /// A stage's name in seed <paramref name="replica"/>: the first seed keeps the plain names (a one-seed run is the run
    /// it always was), the others append "#n". Every random draw of a stage is keyed by its name, so the name is the seed.
    /// </summary>
    private static string Named(string stage, int replica) => replica == 0 ? stage : $"{stage}#{replica + 1}";

    /// <summary>
    /// Model compute per stage, in forward-token equivalents: a token run forward counts 1, forward and backward 3
    /// (the backward pass costs about twice the forward). The compute-matched control is sized by it.
    /// </summary>
    private readonly Dictionary<string, double> _compute = new();

    private void AddCompute(string stage, double tokens) => _compute[stage] = _compute.GetValueOrDefault(stage) + tokens;

    /// <summary>
    /// One seed of the R1 line from <paramref name="start"/> (pretrained weights with pretraining's optimizer state, or
    /// the SFT checkpoint's weights and state when <paramref name="fromSft"/>). Returns its eval cells (tagged with the
    /// seed) and the final policy (GRPO's, or the second round's when rejection sampling runs), which the caller owns.
    /// <paramref name="pretrained"/> is the pretrained model when the run has it (the rejection-sampled SFT starts from it).
    /// </summary>
    private (List<EvaluationCell> Cells, PolicyModel Rl) FineTune(int replica, PolicyModel start, PolicyModel? pretrained, bool fromSft, ReasoningChatFormat format, ComputePool pool, CurveLog curves)
    {
        // The model is trained to think (chat front ends start it thinking); the think-block-closed rows are asked of
        // the first seed's SFT and GRPO models only, as the record that answering without thinking was not learned.
        bool[] modes = replica == 0 ? [true, false] : [true];
        var cells = new List<EvaluationCell>();
        void Add(List<EvaluationCell> stageCells) => cells.AddRange(stageCells.Select(c => c with { Replica = replica }));

        using var policy = start.Fork();
        if (!fromSft)
        {
            string sft = Named("sft", replica);
            Timed(sft, () => Supervised(sft, policy, format, curves, _s.SftSteps, _s.SftBatch, _s.SftLearningRate,
                (ref DeterministicRandom rng) => TraceExample(format, ref rng)));
            if (replica == 0 && _s.SftCheckpoint is { } path && Writes)
            {
                // Optimizer first: the weights file is what marks the checkpoint as present.
                TrainingCheckpoint.SaveOptimizer(policy.Optimizer, OptimizerPath(path));
                SaveValues(policy, path);
            }
        }
        Timed(Named("eval sft", replica), () => Add(Evaluate("SFT", policy, format, pool, modes)));
        PassAtKCurve("SFT", policy, format, pool, replica);
        Timed(Named("off-topic sft", replica), () => OffTopicReplies("SFT", policy, format, pool, replica));

        // RL starts from a copy with fresh AdamW moments: SFT's second-moment estimates would set GRPO's step sizes.
        var rl = policy.Snapshot();
        try
        {
            string grpo = Named("grpo", replica);
            var trainOn = GrpoCells(grpo, replica, policy, format, pool);
            Timed(grpo, () => Grpo(rl, format, pool, curves, new GrpoRun(grpo, _s.GrpoSteps, _s.GrpoMaxNewTokens, _s.GrpoLearningRate, trainOn)));
            Timed(Named("eval grpo", replica), () => Add(Evaluate("GRPO", rl, format, pool, modes)));
            PassAtKCurve("GRPO", rl, format, pool, replica);
            Timed(Named("off-topic grpo", replica), () => OffTopicReplies("GRPO", rl, format, pool, replica));

            if (_s.ComputeMatchedControl && _s.GrpoSteps > 0)
            {
                // The control continues the SFT model (its optimizer too) on fresh traces, with SFT's batch and schedule
                // shape, for as many steps as cost what GRPO cost (sampling, scoring and updates, monitor excluded).
                string control = Named("sft-control", replica);
                double sftStep = 3.0 * _s.SftBatch * MeanSftPositions(format);
                int steps = Math.Max(1, (int)Math.Round(_compute[grpo] / sftStep));
                Log($"{control}: {steps} SFT steps match GRPO's {_compute[grpo]:E3} forward-token equivalents");
                Timed(control, () => Supervised(control, policy, format, curves, steps, _s.SftBatch, _s.SftLearningRate,
                    (ref DeterministicRandom rng) => TraceExample(format, ref rng)));
                Timed(Named("eval control", replica), () => Add(Evaluate(ControlStage, policy, format, pool, [true])));
            }
            if (_s.RejectionProblems > 0)
            {
                var (rejectionCells, final) = Rejection(replica, pretrained!, rl, format, pool, curves, modes);
                cells.AddRange(rejectionCells);
                rl.Dispose();
                rl = final;
            }
            return (cells, rl);
        }
        catch
        {
            rl.Dispose();
            throw;
        }
    }

    /// <summary>Each GRPO run's dev probe (<see cref="RecipeSettings.GrpoRoom"/>): the run, its seed and every candidate cell.</summary>
    private readonly List<(string Run, int Replica, List<CellRoom> Cells)> _rooms = new();

    /// <summary>
    /// The cells GRPO run <paramref name="run"/> draws its prompts from: those of <see cref="RecipeSettings.GrpoTasks"/> ×
    /// <see cref="RecipeSettings.GrpoDifficulties"/> where <paramref name="policy"/> (the model GRPO starts from) has
    /// room on dev. Null (GRPO draws from the two lists as configured) when none has room or the recipe does not probe.
    /// </summary>
    private List<(TaskKind Kind, int Difficulty)>? GrpoCells(string run, int replica, PolicyModel policy, ReasoningChatFormat format, ComputePool pool)
    {
        if (_s.GrpoRoom is not { } room || _s.GrpoSteps == 0) return null;
        // The problems and sampling seeds come from the run's seed (Evaluate sets it), so every seed's SFT model is
        // probed on the same dev problems; the dev monitor draws its own.
        var probe = room.Probe with { Kinds = _s.GrpoTasks ?? ProblemGenerator.Kinds };
        var cells = Timed($"{run} room", () => Evaluate($"{run} room", policy, format, pool, [true], over: probe));
        var rooms = GrpoRoom.Measure(cells, _s.GrpoDifficulties, room.Margin);
        _rooms.Add((run, replica, rooms));
        var chosen = rooms.Where(r => r.Chosen).ToList();
        Log($"{run}: dev pass@1 → pass@{probe.Samples} per cell: " + string.Join(", ", rooms.Select(r =>
            FormattableString.Invariant($"{r} {100 * r.PassAt1:F0} → {100 * r.PassAtK:F0} %{(r.Chosen ? " *" : "")}"))));
        if (chosen.Count == 0)
        {
            // Drawn as without the probe, so such a run is the unprobed run.
            Log(FormattableString.Invariant($"{run}: no cell has pass@{probe.Samples} − pass@1 ≥ {room.Margin:F2} on dev; GRPO draws from all {rooms.Count}"));
            return null;
        }
        Log($"{run} trains on (chosen on dev): {string.Join(", ", chosen)}");
        return chosen.Select(r => (r.Kind, r.Difficulty)).ToList();
    }

    /// <summary>Cells of the many-samples evaluation (<see cref="RecipeSettings.PassAtKEvaluation"/>), kept apart from the table's.</summary>
    private readonly List<EvaluationCell> _passAtK = new();

    private void PassAtKCurve(string stage, PolicyModel policy, ReasoningChatFormat format, ComputePool pool, int replica)
    {
        if (_s.PassAtKEvaluation is not { } settings) return;
        var scope = settings with { Kinds = _s.GrpoTasks ?? ProblemGenerator.Kinds, MaxNewTokens = _s.Evaluation.MaxNewTokens, Temperature = _s.Evaluation.Temperature };
        Timed(Named($"pass@k {stage}", replica), () => _passAtK.AddRange(
            Evaluate(stage, policy, format, pool, [true], over: scope).Select(c => c with { Replica = replica })));
    }

    /// <summary>
    /// The mean positions per packed SFT row (a batch is padded to its longest example), measured on 64 batches
    /// drawn from a seed of their own, so sizing the control draws nothing from any stage's random stream.
    /// </summary>
    private double MeanSftPositions(ReasoningChatFormat format)
    {
        var rng = new DeterministicRandom(DeterministicRandom.SeedFor(_s.Seed, "sft-row-length"));
        double total = 0;
        const int Batches = 64;
        for (int b = 0; b < Batches; b++)
        {
            int longest = 0;
            for (int i = 0; i < _s.SftBatch; i++) longest = Math.Max(longest, TraceExample(format, ref rng).Tokens.Length);
            total += longest - 1; // a packed row of width w predicts w − 1 positions
        }
        return total / Batches;
    }
}
