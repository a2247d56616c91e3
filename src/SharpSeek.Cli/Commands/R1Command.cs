using SharpSeek.Tensors;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using SharpSeek.Distributed;
using SharpSeek.Distributed.Mpi;
using SharpSeek.Reasoning.Recipe;
using SharpSeek.Reasoning.Tasks;
using SharpSeek.Training;
using Spectre.Console;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek r1 recipe --out DIR [--seed N] [--threads N] [--ci]</c>: the whole R1 pipeline (tokenizer → pretrain →
/// cold-start SFT → GRPO → eval, then distillation) writing safetensors + config.json + tokenizer.json, eval.md/png,
/// metrics.jsonl and the training curves into DIR. <c>sharpseek r1 tasks</c> prints generated problems with their
/// reasoning, answer and split.
/// Under <c>mpirun -np N</c> the recipe runs data parallel over N processes (training rows, rollouts and evaluation
/// problems split over the ranks); rank 0 alone prints and writes DIR, and a rank that fails ends the whole job.
/// </summary>
internal static class R1Command
{
    public static Command Create()
    {
        var command = new Command("r1", "DeepSeek-R1 pipeline: verifiable tasks, SFT, GRPO, distillation, evaluation");
        command.Subcommands.Add(Recipe());
        command.Subcommands.Add(Tasks());
        command.Subcommands.Add(Report());
        return command;
    }

    private static Command Recipe()
    {
        var output = new Option<string>("--out", "-o") { Description = "model directory to write", DefaultValueFactory = _ => "models/sharpseek-r1-tiny" };
        var seed = new Option<ulong>("--seed") { Description = "seed of every random choice", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "compute threads (results are reproducible for a fixed count)", DefaultValueFactory = _ => 2 };
        var ci = new Option<bool>("--ci") { Description = "the seconds-long CI configuration instead of the bundled model's" };
        var plain = new Option<bool>("--plain") { Description = "plain progress lines even on a terminal" };
        // Step overrides and the SFT checkpoint are for calibrating stages on shorter runs; the bundled model uses the defaults.
        var pretrainSteps = new Option<int?>("--pretrain-steps") { Description = "override the pretraining steps" };
        var sftSteps = new Option<int?>("--sft-steps") { Description = "override the cold-start SFT steps" };
        var grpoSteps = new Option<int?>("--grpo-steps") { Description = "override the GRPO steps" };
        var distillSteps = new Option<int?>("--distill-steps") { Description = "override the distillation students' SFT steps" };
        var distillProblems = new Option<int?>("--distill-problems") { Description = "override the distillation problems (0 skips distillation)" };
        var grpoLr = new Option<double?>("--grpo-lr") { Description = "override the GRPO learning rate" };
        var grpoWarmup = new Option<int?>("--grpo-warmup") { Description = "override the GRPO warm-up steps" };
        var grpoPrompts = new Option<int?>("--grpo-prompts") { Description = "override the prompts per GRPO step" };
        var grpoDifficulties = new Option<int[]?>("--grpo-difficulties") { Description = "override the difficulties GRPO draws prompts from", AllowMultipleArgumentsPerToken = true };
        var grpoTasks = new Option<TaskKind[]?>("--grpo-tasks") { Description = "task families GRPO draws prompts from (default: all)", AllowMultipleArgumentsPerToken = true };
        var grpoBias = new Option<double?>("--grpo-bias-speed") { Description = "override γ of the expert-bias balancing during GRPO" };
        var grpoEvalEvery = new Option<int?>("--grpo-eval-every") { Description = "log held-out pass@1 every N GRPO steps (0 = never)" };
        var zeroSteps = new Option<int?>("--zero-steps") { Description = "override R1-Zero's GRPO steps from the pretrained model (0 skips R1-Zero)" };
        var zeroLr = new Option<double?>("--zero-lr") { Description = "override R1-Zero's learning rate" };
        var grpoFilterOverlong = new Option<bool>("--grpo-filter-overlong") { Description = "leave responses cut at the token budget out of the GRPO loss (DAPO's overlong filtering)" };
        var width = new Option<int?>("--width") { Description = "the model's hidden size (a multiple of 32; default 128, the bundled model's): a scaling run" };
        var depth = new Option<int?>("--depth") { Description = "the model's blocks (default 3); the distillation student has one fewer" };
        var seeds = new Option<int?>("--seeds") { Description = "fine-tuning seeds: SFT, GRPO and the control run this many times from one pretrained model (table: means; intervals over seeds and problems)" };
        var rejection = new Option<int?>("--rs-problems") { Description = "R1's last stages: the GRPO policy answers N training problems, its verified traces fine-tune the pretrained model, GRPO runs again (0 skips)" };
        var noControl = new Option<bool>("--no-control") { Description = "skip the compute-matched SFT control (more SFT for GRPO's compute)" };
        var grpoClipHigh = new Option<double?>("--grpo-clip-high") { Description = "DAPO's clip-higher: the upper side of GRPO's ratio clip, 1 + ε_high (default: ε, symmetric)" };
        var grpoKl = new Option<double?>("--grpo-kl") { Description = "β of GRPO's KL penalty to the SFT model (default 0.001; 0 = none)" };
        var grpoRoom = new Option<double?>("--grpo-room") { Description = "dev pass@16 − pass@1 a (task, difficulty) cell needs for GRPO to train on it, measured after SFT (default 0.2; 0 trains on every cell)" };
        var grpoRoomMix = new Option<double?>("--grpo-room-mix") { Description = "share of GRPO prompts drawn from every cell instead of the dev-chosen ones (default 0)" };
        var grpoAllCells = new Option<bool>("--grpo-all-cells") { Description = "skip the dev probe: GRPO draws from every task and difficulty it is given" };
        var noStd = new Option<bool>("--grpo-no-std") { Description = "Dr. GRPO: centre group advantages without dividing by their standard deviation" };
        var sftDifficulties = new Option<int[]?>("--sft-difficulties") { Description = "override the difficulties the cold-start SFT traces are drawn from", AllowMultipleArgumentsPerToken = true };
        var pretrainCheckpoint = new Option<string?>("--pretrain-checkpoint") { Description = "weights and optimizer state after pretraining: loaded if the file exists (skipping pretraining), else written" };
        var sftCheckpoint = new Option<string?>("--sft-checkpoint") { Description = "weights after SFT: loaded if the file exists (skipping pretraining and SFT), else written" };
        var command = new Command("recipe", "Train the bundled reasoning model end to end and evaluate it")
            {
                output, seed, threads, ci, plain, pretrainSteps, sftSteps, grpoSteps, distillSteps, distillProblems,
                grpoLr, grpoWarmup, grpoPrompts, grpoDifficulties, grpoTasks, grpoBias, grpoEvalEvery, grpoFilterOverlong, zeroSteps, zeroLr, width, depth, seeds, rejection, noControl, grpoClipHigh, noStd, grpoKl, grpoRoom, grpoRoomMix, grpoAllCells, sftCheckpoint, sftDifficulties, pretrainCheckpoint,
            };
        command.SetAction((parse, ct) => Task.FromResult(Execute(parse)));
        return command;

        int Execute(ParseResult parse)
        {
            ICommunicator world;
            try
            {
                world = Communicator.FromEnvironment();
            }
            catch (MpiException e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return 1;
            }
            using var _ = world;
            try
            {
                return Run(parse, world);
            }
            catch (ArgumentException e) when (world.Size == 1)
            {
                // Settings the recipe refuses (a bad size, seed count or difficulty list) are checked before any work.
                Console.Error.WriteLine("error: " + e.Message);
                return 2;
            }
            catch (Exception e) when (world.Size > 1)
            {
                Console.Error.WriteLine($"error on rank {world.Rank}: {e.Message}");
                // The other ranks may be waiting in a collective for this one: end the whole job now rather than let them hang.
                if (world is MpiCommunicator mpi) mpi.Abort(1);
                return 1;
            }
        }

        int Run(ParseResult parse, ICommunicator world)
        {
            string dir = Path.GetFullPath(parse.GetValue(output)!);
            ulong s = parse.GetValue(seed);
            var settings = parse.GetValue(ci)
                ? RecipeSettings.ContinuousIntegration(s) with { Threads = parse.GetValue(threads) }
                : new RecipeSettings
                {
                    Seed = s, Threads = parse.GetValue(threads),
                    Model = RecipeSettings.BundledModel(512), Student = RecipeSettings.StudentModel(512),
                };
            if (parse.GetValue(width) is not null || parse.GetValue(depth) is not null)
            {
                int w = parse.GetValue(width) ?? settings.Model.HiddenSize, blocks = parse.GetValue(depth) ?? settings.Model.NumHiddenLayers;
                settings = settings with
                {
                    Model = RecipeSettings.ScaledModel(settings.Model.VocabSize, w, blocks),
                    Student = RecipeSettings.ScaledModel(settings.Model.VocabSize, w, Math.Max(2, blocks - 1)),
                };
            }
            settings = settings with
            {
                PretrainSteps = parse.GetValue(pretrainSteps) ?? settings.PretrainSteps,
                Seeds = parse.GetValue(seeds) ?? settings.Seeds,
                RejectionProblems = parse.GetValue(rejection) ?? settings.RejectionProblems,
                ComputeMatchedControl = settings.ComputeMatchedControl && !parse.GetValue(noControl),
                SftSteps = parse.GetValue(sftSteps) ?? settings.SftSteps,
                GrpoSteps = parse.GetValue(grpoSteps) ?? settings.GrpoSteps,
                ZeroSteps = parse.GetValue(zeroSteps) ?? settings.ZeroSteps,
                ZeroLearningRate = parse.GetValue(zeroLr) ?? settings.ZeroLearningRate,
                DistillSteps = parse.GetValue(distillSteps) ?? settings.DistillSteps,
                DistillProblems = parse.GetValue(distillProblems) ?? settings.DistillProblems,
                GrpoLearningRate = parse.GetValue(grpoLr) ?? settings.GrpoLearningRate,
                GrpoWarmupSteps = parse.GetValue(grpoWarmup) ?? settings.GrpoWarmupSteps,
                GrpoPrompts = parse.GetValue(grpoPrompts) ?? settings.GrpoPrompts,
                GrpoDifficulties = parse.GetValue(grpoDifficulties) is { Length: > 0 } ds ? ds : settings.GrpoDifficulties,
                GrpoTasks = parse.GetValue(grpoTasks) is { Length: > 0 } ts ? ts : settings.GrpoTasks,
                GrpoEvalEvery = parse.GetValue(grpoEvalEvery) ?? settings.GrpoEvalEvery,
                GrpoBiasUpdateSpeed = parse.GetValue(grpoBias) ?? settings.GrpoBiasUpdateSpeed,
                GrpoRoom = parse.GetValue(grpoAllCells) || settings.GrpoRoom is null ? null : settings.GrpoRoom with
                {
                    Margin = parse.GetValue(grpoRoom) ?? settings.GrpoRoom.Margin,
                    OtherShare = parse.GetValue(grpoRoomMix) ?? settings.GrpoRoom.OtherShare,
                },
                Grpo = settings.Grpo with
                {
                    FilterOverlong = settings.Grpo.FilterOverlong || parse.GetValue(grpoFilterOverlong),
                    ClipEpsilonHigh = parse.GetValue(grpoClipHigh) ?? settings.Grpo.ClipEpsilonHigh,
                    ScaleAdvantagesByStd = settings.Grpo.ScaleAdvantagesByStd && !parse.GetValue(noStd),
                    KlBeta = parse.GetValue(grpoKl) ?? settings.Grpo.KlBeta,
                },
                SftDifficulties = parse.GetValue(sftDifficulties) is { Length: > 0 } sd ? sd : settings.SftDifficulties,
                PretrainCheckpoint = parse.GetValue(pretrainCheckpoint) is { } pk ? Path.GetFullPath(pk) : null,
                SftCheckpoint = parse.GetValue(sftCheckpoint) is { } ck ? Path.GetFullPath(ck) : null,
            };
            if (world.Rank != 0)
            {
                // In lockstep with rank 0 (every stage is collective); rank 0 prints and writes.
                new R1Recipe(settings, world: world).Run(dir);
                return 0;
            }
            bool interactive = !(parse.GetValue(plain) || Console.IsOutputRedirected || Environment.GetEnvironmentVariable("CI") is not null);
            var clock = Stopwatch.StartNew();
            if (world.Size > 1) Console.WriteLine($"data parallel over {world.Size} ranks ({world.Description}), {settings.Threads} threads each");
            RecipeResult result;
            if (interactive)
            {
                result = null!;
                AnsiConsole.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .Start(context =>
                    {
                        var tasks = new Dictionary<string, ProgressTask>();
                        result = new R1Recipe(settings, (stage, done, total, status) =>
                        {
                            if (!tasks.TryGetValue(stage, out var task)) tasks[stage] = task = context.AddTask(Markup.Escape(stage), maxValue: total);
                            task.Value = done;
                            task.Description = Markup.Escape(string.IsNullOrEmpty(status) ? stage : $"{stage}: {status}");
                        }, line => AnsiConsole.MarkupLine(Markup.Escape(line)), world).Run(dir);
                    });
            }
            else
            {
                var lastLine = new Dictionary<string, long>();
                result = new R1Recipe(settings, (stage, done, total, status) =>
                {
                    long now = clock.ElapsedMilliseconds;
                    if (done != total && lastLine.TryGetValue(stage, out long at) && now - at < 10_000) return;
                    lastLine[stage] = now;
                    Console.WriteLine($"[{clock.Elapsed:hh\\:mm\\:ss}] {stage} {done}/{total} {status}");
                }, line => Console.WriteLine($"[{clock.Elapsed:hh\\:mm\\:ss}] {line}"), world).Run(dir);
            }
            Console.WriteLine();
            Console.WriteLine(result.EvaluationTable);
            var d = result.Distillation;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"distillation: {d.TeacherTraces} verified teacher traces from {d.Problems} problems; held-out pass@1 student on traces {100 * d.TraceStudentPassAt1:F1}% vs plain answers {100 * d.PlainStudentPassAt1:F1}%"));
            Console.WriteLine($"{result.Parameters:N0} parameters; wall time {clock.Elapsed:hh\\:mm\\:ss}; written to {dir}");
            return 0;
        }
    }

    private static Command Report()
    {
        var runs = new Argument<string[]>("runs") { Description = "output folders of `r1 recipe` runs (for example the same recipe at several --width/--depth)", Arity = ArgumentArity.OneOrMore };
        var chart = new Option<string?>("--chart") { Description = "also write the chart (pass@1 per stage and GRPO − SFT against parameters) to this PNG" };
        var command = new Command("report", "Compare finished recipe runs: test pass@1 per stage and GRPO's gain, by model size") { runs, chart };
        command.SetAction((parse, ct) =>
        {
            List<RecipeRunSummary> summaries;
            try
            {
                summaries = parse.GetValue(runs)!.Select(RecipeReport.Read).ToList();
            }
            catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return Task.FromResult(1);
            }
            Console.Write(RecipeReport.Markdown(summaries));
            if (parse.GetValue(chart) is { } png)
            {
                RecipeReport.WriteChart(summaries, png);
                Console.WriteLine($"chart written to {png}");
            }
            return Task.FromResult(0);
        });
        return command;
    }

    private static Command Tasks()
    {
        var count = new Option<int>("--count") { Description = "problems per task and difficulty", DefaultValueFactory = _ => 1 };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 1 };
        var command = new Command("tasks", "Print generated problems with their reasoning traces, answers and split") { count, seed };
        command.SetAction((parse, ct) =>
        {
            var rng = new DeterministicRandom(parse.GetValue(seed));
            foreach (var kind in ProblemGenerator.Kinds)
                for (int d = 1; d <= ProblemGenerator.MaxDifficulty; d++)
                    for (int i = 0; i < parse.GetValue(count); i++)
                    {
                        var p = ProblemGenerator.Generate(kind, d, ref rng);
                        Console.WriteLine($"[{kind} d{d} {ProblemSplit.Of(p)}] {p.Question}\n{p.Reasoning}\n=> {p.Answer}\n");
                    }
            return Task.FromResult(0);
        });
        return command;
    }
}
