using SharpSeek.Tensors;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SharpSeek.Distributed;
using SharpSeek.Model;
using SharpSeek.Reasoning.Evaluation;
using SharpSeek.Reasoning.Generation;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Reasoning.Training;
using SharpSeek.Tensors.Threading;
using SharpSeek.Tokenizer.PreTokenization;
using SharpSeek.Tokenizer.Training;
using SharpSeek.Training;
using SharpSeek.Training.Checkpoints;
using SharpSeek.Training.Data;
using SharpSeek.Formats;

namespace SharpSeek.Reasoning.Recipe;

/// <summary>Progress of a long stage: <paramref name="Done"/> of <paramref name="Total"/> units, with a short status.</summary>
public delegate void RecipeProgress(string Stage, int Done, int Total, string Status);

/// <summary>What a recipe run produced.</summary>
public sealed record RecipeResult(string OutputDirectory, List<EvaluationCell> Evaluation, string EvaluationTable,
    DistillationResult Distillation, IReadOnlyDictionary<string, double> StageSeconds, long Parameters);

/// <summary>Held-out pass@1 (thinking prompt, all tasks and difficulties pooled) of the two students.</summary>
public sealed record DistillationResult(int TeacherTraces, int Problems, double TraceStudentPassAt1, double PlainStudentPassAt1, List<EvaluationCell> Cells);

/// <summary>
/// The R1 pipeline end to end (docs/model-card.md shows what it produces): byte-level BPE tokenizer on generated math text → pretraining
/// on worked solutions → cold-start SFT on chat-formatted reasoning traces (loss on assistant tokens only) → GRPO with
/// rule-based rewards → evaluation of base, SFT and GRPO on held-out problems; then distillation: the final model
/// writes verified traces (rejection sampling) that a smaller student is fine-tuned on, compared with the same student
/// fine-tuned on plain answers. Every random choice derives from <see cref="RecipeSettings.Seed"/>.
/// <para>
/// Data parallel over the ranks of <paramref name="world"/> (<c>mpirun -np N</c>): every rank trains the same tokenizer
/// and draws the same batches; pretraining and SFT train each rank on its rows of every batch (terms weighted by each
/// share's trained tokens, so the gradient is the one-process one); GRPO splits each step's prompt groups over the
/// ranks for sampling, exchanges the completions (every rank scores all of them and picks the same groups), then splits
/// the kept groups for the update with the objective normalised by the whole batch; evaluation and the distillation
/// teacher split their problems the same way. Rank 0 alone writes files. The run follows the one-process run up to
/// f32 summation order.
/// </para>
/// </summary>
public sealed partial class R1Recipe(RecipeSettings settings, RecipeProgress? progress = null, Action<string>? log = null, ICommunicator? world = null)
{
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };
    private readonly RecipeSettings _s = settings;
    private readonly ICommunicator _world = world ?? SingleProcess.Instance;
    /// <summary>Rank 0 writes the run's files; the other ranks compute the same things and write nothing.</summary>
    private bool Writes => _world.Rank == 0;
    private readonly Dictionary<string, double> _seconds = new();
    /// <summary>Per stage, the share of held-out off-topic messages answered with the capability reply.</summary>
    private readonly Dictionary<string, double> _offTopic = new();

    private void Report(string stage, int done, int total, string status = "") => progress?.Invoke(stage, done, total, status);
    private void Log(string line) => log?.Invoke(line);

    public RecipeResult Run(string outputDirectory)
    {
        _s.Grpo.Validate();
        // Checked up front: a bad difficulty list would otherwise surface only after minutes of pretraining.
        foreach (var (name, list) in new[] { (nameof(_s.SftDifficulties), _s.SftDifficulties), (nameof(_s.GrpoDifficulties), _s.GrpoDifficulties) })
            if (list is not null && (list.Length == 0 || list.Any(d => d is < 1 or > ProblemGenerator.MaxDifficulty)))
                throw new ArgumentException($"{name} must list difficulties in [1, {ProblemGenerator.MaxDifficulty}]; got [{string.Join(", ", list)}]");
        if (_s.Seeds < 1) throw new ArgumentException($"Seeds must be at least 1; got {_s.Seeds}");
        if (_s.Seeds > 1 && _s.SftCheckpoint is not null)
            throw new ArgumentException("an SFT checkpoint holds one seed's SFT model: run several seeds from the pretraining checkpoint instead");
        if (_s.RejectionProblems > 0 && _s.SftCheckpoint is not null && _s.PretrainCheckpoint is null)
            throw new ArgumentException("the rejection-sampled SFT starts from the pretrained model, which an SFT checkpoint does not hold: give the pretraining checkpoint too");
        if (_s.GrpoRoom is { } room && !(room.Margin >= 0 && room.Margin <= 1))
            throw new ArgumentException($"the GRPO room margin is a difference of pass rates, in [0, 1]; got {room.Margin}");
        if (_s.GrpoRoom is { } mix && !(mix.OtherShare >= 0 && mix.OtherShare <= 1))
            throw new ArgumentException($"the share of GRPO prompts from every cell is in [0, 1]; got {mix.OtherShare}");
        if (_s.GrpoRoom is { Probe.Samples: < 2 }) throw new ArgumentException("the GRPO room probe needs at least 2 samples per problem (pass@k against pass@1)");
        if (_s.GrpoTasks is { Length: 0 }) throw new ArgumentException("GrpoTasks is empty: leave it null for every task family");
        if (Writes) Directory.CreateDirectory(outputDirectory);
        using var pool = new ComputePool(Math.Max(1, _s.Threads));
        using var curves = Writes ? new CurveLog(Path.Combine(outputDirectory, "metrics.jsonl")) : CurveLog.InMemory();

        var vocabulary = Timed("tokenizer", TrainTokenizer);
        var tokenizer = vocabulary.ToTokenizer();
        var format = new ReasoningChatFormat(tokenizer);
        var config = _s.Model with { VocabSize = tokenizer.VocabularySize };

        // The pretrained weights (and pretraining's optimizer state, which SFT continues): every seed of the R1 line and
        // R1-Zero start from them. A run resumed from the SFT checkpoint has them only when the pretraining checkpoint
        // is there too; then it evaluates the base and runs R1-Zero as the full run does.
        using var start = new PolicyModel(config, _s.Seed, pool, world: _world);
        using var sftLoaded = _s.SftCheckpoint is { } checkpoint && Exists(checkpoint) ? new PolicyModel(config, _s.Seed, pool, world: _world) : null;
        bool fromSft = sftLoaded is not null, pretrained = true;
        var cells = new List<EvaluationCell>();
        if (_s.PretrainCheckpoint is { } pre && Exists(pre))
        {
            LoadValues(start, pre);
            TrainingCheckpoint.RestoreOptimizer(OptimizerPath(pre), start.Optimizer);
            Log($"loaded the pretraining checkpoint {pre}: pretraining skipped");
        }
        else if (!fromSft)
        {
            Timed("pretrain", () => Pretrain(start, format, curves));
            if (_s.PretrainCheckpoint is { } prePath && Writes)
            {
                // Optimizer first: the weights file is what marks the checkpoint as present.
                TrainingCheckpoint.SaveOptimizer(start.Optimizer, OptimizerPath(prePath));
                SaveValues(start, prePath);
            }
        }
        else pretrained = false;
        if (sftLoaded is not null)
        {
            LoadValues(sftLoaded, _s.SftCheckpoint!);
            TrainingCheckpoint.RestoreOptimizer(OptimizerPath(_s.SftCheckpoint!), sftLoaded.Optimizer);
            Log($"loaded the SFT checkpoint {_s.SftCheckpoint}: SFT skipped" + (pretrained ? "" : " (and, with no pretraining checkpoint, the base and R1-Zero)"));
        }
        if (_s.RejectionProblems > 0 && !pretrained)
            throw new ArgumentException("the rejection-sampled SFT starts from the pretrained model: give the pretraining checkpoint beside the SFT checkpoint");
        if (pretrained)
        {
            Timed("eval base", () => cells.AddRange(Evaluate("base", start, format, pool, [true, false])));
            Timed("off-topic base", () => OffTopicReplies("base", start, format, pool, 0));
        }

        PolicyModel? final = null;
        try
        {
            for (int replica = 0; replica < _s.Seeds; replica++)
            {
                var (replicaCells, rl) = FineTune(replica, sftLoaded ?? start, pretrained ? start : null, fromSft, format, pool, curves);
                cells.AddRange(replicaCells);
                // The first seed's final model (GRPO's, or the second round's) is the one exported and distilled.
                if (replica == 0) final = rl;
                else rl.Dispose();
            }
            if (_s.ZeroSteps > 0 && pretrained)
            {
                // Fresh AdamW moments, as for R1's GRPO.
                using var zero = start.Snapshot();
                Timed("r1-zero", () => cells.AddRange(Zero(zero, new SolutionTextFormat(tokenizer), pool, curves)));
            }
            else if (_s.ZeroSteps > 0) Log("R1-Zero skipped: the run started from the SFT checkpoint alone, so there are no pretrained weights to start from");
            return Finish(outputDirectory, vocabulary, format, pool, curves, cells, final!);
        }
        finally
        {
            final?.Dispose();
        }
    }

    private RecipeResult Finish(string outputDirectory, TrainedBpeVocabulary vocabulary, ReasoningChatFormat format, ComputePool pool, CurveLog curves,
        List<EvaluationCell> cells, PolicyModel rl)
    {
        string table = (_s.Seeds > 1 ? $"SFT, GRPO and the compute-matched control: means over {_s.Seeds} fine-tuning seeds from one pretrained model.\n\n" : "")
            + ReasoningEvaluator.MarkdownTable(cells, _s.Evaluation.Samples);
        // Computed once, for the chart and for recipe.json (each is a 10,000-resample bootstrap per scope).
        (string Key, string Label, List<ComparisonRow> Rows)[] comparisons =
        [
            ("grpo_vs_sft", "GRPO − SFT", StageComparison.Compare(cells, "GRPO", "SFT")),
            ("grpo_vs_control", "GRPO − compute-matched SFT", StageComparison.Compare(cells, "GRPO", ControlStage)),
            ("second_round_vs_grpo", "second GRPO round − GRPO", StageComparison.Compare(cells, SecondRoundStage, "GRPO")),
            ("r1_zero_vs_base", "R1-Zero − base (plain prompt)", StageComparison.Compare(cells, ZeroStage, ZeroBaseStage)),
            // The many-samples evaluation: GRPO − SFT at the largest k per scope.
            ("grpo_vs_sft_pass_at_max_k", "", _s.PassAtKEvaluation is { } pk ? StageComparison.Compare(_passAtK, "GRPO", "SFT", pk.Samples) : []),
        ];
        if (Writes)
        {
            ModelExport.Save(rl.Model, vocabulary, outputDirectory);
            string offTopic = _offTopic.Count == 0 ? "" : string.Create(CultureInfo.InvariantCulture,
                $"\nOff-topic messages ({OffTopic.Messages(DataSplit.Test).Count} held out, k = {_s.Evaluation.Samples}, thinking) answered with the capability reply: ") +
                string.Join(", ", _offTopic.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {100 * p.Value:F1} %"))) + ".\n";
            string room = string.Concat(_rooms.Select(r => string.Create(CultureInfo.InvariantCulture,
                $"\n{r.Run} trained on the cells with dev pass@{_s.GrpoRoom!.Probe.Samples} − pass@1 ≥ {_s.GrpoRoom.Margin:F2}: ") +
                (r.Cells.Any(c => c.Chosen) ? string.Join(", ", r.Cells.Where(c => c.Chosen)) : "none had room, so all of them") + ".\n"));
            AtomicFile.WriteAllText(Path.Combine(outputDirectory, "eval.md"), table + offTopic + room);
            ReasoningEvaluator.WriteChart(cells, Path.Combine(outputDirectory, "eval.png"));
            StageComparison.WriteChart([.. comparisons.Where(c => c.Rows.Count > 0 && c.Key != "grpo_vs_sft_pass_at_max_k").Select(c => (c.Label, (IReadOnlyList<ComparisonRow>)c.Rows))], Path.Combine(outputDirectory, "comparisons.png"), $"test pass@1 differences with thinking ({_s.Seeds} seed{(_s.Seeds == 1 ? "" : "s")}; bars: paired bootstrap 95 %)");
            if (_passAtK.Count > 0)
                ReasoningEvaluator.WritePassAtKChart(_passAtK, Path.Combine(outputDirectory, "pass-at-k.png"),
                    $"test pass@k with thinking ({(_s.GrpoTasks is null ? "all tasks" : string.Join(", ", _s.GrpoTasks))}, {_s.PassAtKEvaluation!.ProblemsPerCell} problems per cell, {_s.Seeds} seed{(_s.Seeds == 1 ? "" : "s")})");
        }

        // Calibration runs may skip distillation (no problems): it does not touch the policy.
        var distillation = _s.DistillProblems > 0
            ? Timed("distillation", () => Distill(rl, format, pool, curves))
            : new DistillationResult(0, 0, 0, 0, []);
        if (Writes) WriteCharts(curves, outputDirectory);
        if (_s.DistillProblems > 0 && Writes) File.AppendAllText(Path.Combine(outputDirectory, "eval.md"), string.Create(CultureInfo.InvariantCulture,
            $"\n## Distillation\n\n{distillation.TeacherTraces} verified teacher traces from {distillation.Problems} problems; held-out pass@1 (thinking, pooled): " +
            $"student on traces {100 * distillation.TraceStudentPassAt1:F1} %, on plain answers {100 * distillation.PlainStudentPassAt1:F1} %.\n\n") +
            ReasoningEvaluator.MarkdownTable(distillation.Cells, _s.Evaluation.Samples));
        var result = new RecipeResult(outputDirectory, cells, table, distillation, _seconds, rl.Model.ParameterCount);
        if (Writes) WriteSummary(result, comparisons.Select(c => (c.Key, c.Rows)), Path.Combine(outputDirectory, "recipe.json"));
        return result;
    }

    /// <summary>Whether a checkpoint file exists, as rank 0 sees it: every rank must take the same branch (a rank that cannot read the file then fails loudly).</summary>
    private bool Exists(string path)
    {
        Span<byte> flag = [(byte)(File.Exists(path) ? 1 : 0)];
        _world.Broadcast(flag, 0);
        return flag[0] != 0;
    }

    /// <summary>The weights of a stage (the checkpoint files of calibration runs), as one safetensors file.</summary>
    private static void SaveValues(PolicyModel model, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        TrainingCheckpoint.SaveParameters(model.Model, path);
    }

    private static void LoadValues(PolicyModel model, string path) => TrainingCheckpoint.RestoreParameters(path, model.Model);

    /// <summary>SFT continues pretraining's optimizer, so the pretraining checkpoint keeps AdamW's state beside the weights.</summary>
    private static string OptimizerPath(string checkpoint) => checkpoint + ".optimizer.safetensors";

    private T Timed<T>(string stage, Func<T> body)
    {
        long t0 = Stopwatch.GetTimestamp();
        var result = body();
        _seconds[stage] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        Log($"{stage}: {_seconds[stage]:F1} s");
        return result;
    }

    private void Timed(string stage, Action body) => Timed(stage, () => { body(); return 0; });

    // ---- Stages ------------------------------------------------------------------------------------------------

    private TrainedBpeVocabulary TrainTokenizer()
    {
        Report("tokenizer", 0, 1, "training BPE");
        // Qwen2's pre-tokenizer keeps one digit per piece, so numbers stay digit sequences the model can compute on.
        var trainer = new ByteLevelBpeTrainer(new BpeTrainerOptions
        {
            VocabularySize = _s.TokenizerVocabulary, PreTokenizer = PreTokenizer.Qwen2,
            ChatTemplate = ReasoningChatFormat.JinjaTemplate,
        });
        var rng = new DeterministicRandom(DeterministicRandom.SeedFor(_s.Seed, "tokenizer"));
        for (int i = 0; i < _s.TokenizerCorpusProblems; i++)
        {
            var p = ProblemGenerator.DrawTraining(ref rng, null);
            trainer.AddText(ReasoningChatFormat.PretrainingText(p));
            trainer.AddText(ReasoningChatFormat.PromptText(p.Question, true) + ReasoningChatFormat.TraceCompletion(p));
        }
        var vocabulary = trainer.Train();
        Report("tokenizer", 1, 1, $"{vocabulary.Tokens.Count} tokens");
        return vocabulary;
    }

    /// <summary>Next-token training on a packed stream of worked solutions (plain text, every token trained).</summary>
    private void Pretrain(PolicyModel policy, ReasoningChatFormat format, CurveLog curves) => Pretrain("pretrain", _s.PretrainSteps, policy, format, curves);

    private void Pretrain(string stage, int steps, PolicyModel policy, ReasoningChatFormat format, CurveLog curves)
    {
        var rng = new DeterministicRandom(DeterministicRandom.SeedFor(_s.Seed, stage));
        var stream = new Queue<int>();
        int row = _s.PretrainSequence + 1;
        var schedule = new SharpSeek.Training.Optimization.LearningRateSchedule(SharpSeek.Training.Optimization.ScheduleKind.WarmupCosine,
            _s.PretrainLearningRate, _s.PretrainLearningRate / 10, Math.Min(30, steps / 10), steps, 0.2);
        for (int step = 0; step < steps; step++)
        {
            var tokens = new int[_s.PretrainBatch * row];
            for (int i = 0; i < tokens.Length; i++)
            {
                while (stream.Count == 0)
                    foreach (int t in format.Tokenizer.Encode(ReasoningChatFormat.PretrainingText(ProblemGenerator.DrawTraining(ref rng, null)))) stream.Enqueue(t);
                tokens[i] = stream.Dequeue();
            }
            double loss = policy.SupervisedStep([new TokenBatch(tokens, _s.PretrainBatch, _s.PretrainSequence)], schedule.At(step));
            AddCompute(stage, 3.0 * _s.PretrainBatch * _s.PretrainSequence);
            curves.Record(stage, step + 1, new Dictionary<string, double> { ["loss"] = loss });
            Report(stage, step + 1, steps, $"loss {loss:F3}");
        }
    }

    private delegate SupervisedExample ExampleSource(ref DeterministicRandom rng);

    private SupervisedExample TraceExample(ReasoningChatFormat format, ref DeterministicRandom rng)
    {
        if (OffTopicExample(format, ref rng) is { } chat) return chat;
        var p = ProblemGenerator.DrawTraining(ref rng, _s.SftDifficulties);
        return format.Example(p, ReasoningChatFormat.TraceCompletion(p));
    }

    /// <summary>
    /// For every SFT mix: a small share of off-topic chats teaches the one reply the model gives outside its tasks.
    /// Null (the caller draws a task example) for the rest.
    /// </summary>
    private SupervisedExample? OffTopicExample(ReasoningChatFormat format, ref DeterministicRandom rng) =>
        _s.SftOffTopicShare > 0 && rng.NextDouble() < _s.SftOffTopicShare ? format.Example(OffTopic.DrawTraining(ref rng), OffTopic.Completion) : null;

    /// <summary>Masked SFT: chat-formatted examples, loss on the assistant's tokens only.</summary>
    private void Supervised(string stage, PolicyModel model, ReasoningChatFormat format, CurveLog curves, int steps, int batch, double lr, ExampleSource source)
    {
        var rng = new DeterministicRandom(DeterministicRandom.SeedFor(_s.Seed, stage));
        var schedule = new SharpSeek.Training.Optimization.LearningRateSchedule(SharpSeek.Training.Optimization.ScheduleKind.WarmupCosine,
            lr, lr / 10, Math.Min(20, steps / 10), steps, 0.2);
        for (int step = 0; step < steps; step++)
        {
            var examples = new List<SupervisedExample>(batch);
            for (int i = 0; i < batch; i++) examples.Add(source(ref rng));
            var packed = PolicyModel.Pack(examples, format.Padding);
            double loss = model.SupervisedStep([packed], schedule.At(step));
            AddCompute(stage, 3.0 * packed.Positions);
            curves.Record(stage, step + 1, new Dictionary<string, double> { ["loss"] = loss });
            Report(stage, step + 1, steps, $"loss {loss:F3}");
        }
    }

    private List<EvaluationCell> Evaluate(string stage, PolicyModel policy, ProblemFormat format, ComputePool pool, bool[] modes, int? maxNewTokens = null, EvaluationSettings? over = null)
    {
        using var sampler = new RolloutSampler(policy.Model, pool, format, _s.MaxContext, _world);
        var table = over ?? _s.Evaluation;
        var settings = table with { Seed = _s.Seed, MaxNewTokens = maxNewTokens ?? table.MaxNewTokens };
        var cells = ReasoningEvaluator.Evaluate(stage, sampler, format, settings, modes,
            f => Report($"eval {stage}", (int)Math.Round(f * 1000), 1000, ""));
        Log($"eval {stage}: pass@1 thinking {ReasoningEvaluator.Pooled(cells.Where(c => c.Thinking), c => c.PassAt1):P1}");
        return cells;
    }

    /// <summary>
    /// The share of held-out off-topic messages (test split, <see cref="OffTopic"/>) answered with the capability reply,
    /// k samples each at the eval temperature, with thinking.
    /// </summary>
    private void OffTopicReplies(string stage, PolicyModel policy, ReasoningChatFormat format, ComputePool pool, int replica)
    {
        using var sampler = new RolloutSampler(policy.Model, pool, format, _s.MaxContext, _world);
        var messages = OffTopic.Messages(DataSplit.Test);
        int k = _s.Evaluation.Samples;
        var requests = new List<RolloutRequest>();
        foreach (string m in messages)
        {
            var prompt = format.Prompt(m, thinking: true);
            for (int s = 0; s < k; s++)
                requests.Add(new RolloutRequest(prompt, _s.Evaluation.Temperature, DeterministicRandom.SeedFor(_s.Seed, $"offtopic/{m}/{s}")));
        }
        var outputs = sampler.Generate(requests, _s.Evaluation.MaxNewTokens, group: k);
        double rate = outputs.Count(o => OffTopic.IsReply(format.Tokenizer.Decode(o))) / (double)Math.Max(1, outputs.Count);
        // Over seeds, the mean rate.
        _offTopic[stage] = (_offTopic.GetValueOrDefault(stage) * replica + rate) / (replica + 1);
        Log($"off-topic {stage}: {rate:P1} of {messages.Count} held-out messages × {k} samples get the capability reply");
    }

    private static void WriteCharts(CurveLog curves, string directory)
    {
        curves.WriteChart(Path.Combine(directory, "curves-grpo.png"), "grpo",
        [
            ("reward and accuracy", ["reward", "accuracy", "format"]),
            ("response length (tokens)", ["response_tokens"]),
            ("KL to reference (k3) and clip fraction", ["kl", "clip_fraction"]),
        ], smooth: 5);
        if (curves.Series("grpo-eval", "all").Count > 0)
            curves.WriteChart(Path.Combine(directory, "curves-grpo-eval.png"), "grpo-eval",
                [("held-out pass@1 with thinking (monitoring sample)", ["all", .. Enumerable.Range(1, ProblemGenerator.MaxDifficulty).Select(d => $"D{d}"),
                    .. curves.Series("grpo-eval", "trained cells").Count > 0 ? ["trained cells"] : Array.Empty<string>()])], height: 450);
        if (curves.Series("r1-zero", "reward").Count > 0)
            curves.WriteChart(Path.Combine(directory, "curves-r1-zero.png"), "r1-zero",
            [
                ("R1-Zero: reward and accuracy (plain prompt, no SFT)", ["reward", "accuracy", "format"]),
                ("response length (tokens)", ["response_tokens"]),
                ("share of responses that check their work", ["self_check"]),
            ], smooth: 5);
        if (curves.Series("r1-zero-eval", "all").Count > 0)
            curves.WriteChart(Path.Combine(directory, "curves-r1-zero-eval.png"), "r1-zero-eval",
                [("R1-Zero held-out pass@1 (monitoring sample)", ["all", .. Enumerable.Range(1, ProblemGenerator.MaxDifficulty).Select(d => $"D{d}")])], height: 450);
        curves.WriteChart(Path.Combine(directory, "curves-pretrain.png"), "pretrain", [("pretraining loss", ["loss"])], smooth: 10);
        curves.WriteChart(Path.Combine(directory, "curves-sft.png"), "sft", [("cold-start SFT loss (assistant tokens)", ["loss"])], smooth: 10);
    }

    private void WriteSummary(RecipeResult result, IEnumerable<(string Key, List<ComparisonRow> Rows)> comparisons, string path)
    {
        var summary = new Dictionary<string, object>
        {
            ["seed"] = _s.Seed, ["threads"] = _s.Threads, ["ranks"] = _world.Size, ["parameters"] = result.Parameters,
            ["stage_seconds"] = result.StageSeconds.ToDictionary(k => k.Key, k => Math.Round(k.Value, 1)),
            ["distillation"] = new Dictionary<string, object>
            {
                ["teacher_traces"] = result.Distillation.TeacherTraces, ["problems"] = result.Distillation.Problems,
                ["trace_student_pass_at_1"] = result.Distillation.TraceStudentPassAt1, ["plain_student_pass_at_1"] = result.Distillation.PlainStudentPassAt1,
            },
            ["eval"] = result.Evaluation.Select(c => new Dictionary<string, object>
            {
                ["stage"] = c.Stage, ["seed"] = c.Replica, ["thinking"] = c.Thinking, ["task"] = c.Kind.ToString(), ["difficulty"] = c.Difficulty, ["problems"] = c.Problems,
                ["pass_at_1"] = Math.Round(c.PassAt1, 4), ["maj_at_k"] = Math.Round(c.MajorityAtK, 4), ["mean_tokens"] = Math.Round(c.MeanTokens, 2),
                ["pass_at_k"] = c.Solved.PassAtKCurve().Select(x => Math.Round(x, 4)).ToArray(),
            }).ToList(),
            ["seeds"] = _s.Seeds,
            // Where each GRPO run trained: its dev probe per cell (pass@1, pass@k) and the cells chosen.
            ["grpo_room"] = _rooms.Select(r => new Dictionary<string, object>
            {
                ["run"] = r.Run, ["seed"] = r.Replica, ["margin"] = _s.GrpoRoom!.Margin, ["k"] = _s.GrpoRoom.Probe.Samples,
                ["cells"] = r.Cells.Select(c => new Dictionary<string, object>
                {
                    ["task"] = c.Kind.ToString(), ["difficulty"] = c.Difficulty, ["problems"] = c.Problems,
                    ["pass_at_1"] = Math.Round(c.PassAt1, 4), ["pass_at_k"] = Math.Round(c.PassAtK, 4), ["chosen"] = c.Chosen,
                }).ToList(),
            }).ToList(),
            // Forward-token equivalents per stage (forward 1, forward and backward 3); the control's should match GRPO's.
            ["compute"] = _compute.ToDictionary(k => k.Key, k => Math.Round(k.Value)),

            // The many-samples evaluation: each stage's mean pass@k curve.
            ["pass_at_k"] = ReasoningEvaluator.PassAtKCurves(_passAtK).ToDictionary(p => p.Key, p => p.Value.Select(v => Math.Round(v, 4)).ToArray()),
            ["off_topic_replies"] = new Dictionary<string, object>(_offTopic.Select(p => KeyValuePair.Create(p.Key, (object)Math.Round(p.Value, 4))))
            {
                ["messages"] = OffTopic.Messages(DataSplit.Test).Count, ["samples"] = _s.Evaluation.Samples,
            },
        };
        foreach (var (key, rows) in comparisons) summary[key] = Json(rows);
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(summary, s_indented));
    }

    private static List<Dictionary<string, object>> Json(IEnumerable<ComparisonRow> rows) => rows.Select(r => new Dictionary<string, object>
    {
        ["thinking"] = r.Thinking, ["scope"] = r.Scope, ["problems"] = r.Problems, ["seeds"] = r.Seeds,
        ["difference"] = Math.Round(r.Interval.Difference, 4), ["ci95_low"] = Math.Round(r.Interval.Low, 4), ["ci95_high"] = Math.Round(r.Interval.High, 4),
    }).ToList();
}
