using System.CommandLine;
using System.Globalization;
using SharpSeek.Distributed;
using SharpSeek.Model;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training;
using SharpSeek.Training.Checkpoints;
using SharpSeek.Training.Data;
using SharpSeek.Training.Logging;
using SharpSeek.Training.Optimization;
using SharpSeek.Training.Precision;
using Spectre.Console;
using SharpSeek.Tensors.Diagnostics;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek train --out DIR [--model tiny|small|bench20m|config.json] [--data DIR|FILE.txt] [--steps N] …</c>:
/// trains a DeepSeek-V3-architecture model from scratch with the V3 recipe (MTP loss, aux-loss-free expert balancing,
/// optional FP8). DIR receives <c>data/</c> (token shards), <c>checkpoint-NNNNNN/</c> (HF safetensors + config.json +
/// optimizer and data state), <c>latest</c>, <c>metrics.jsonl</c> and <c>training.png</c>. <c>--resume</c> continues
/// from DIR's latest checkpoint exactly where it stopped. Without <c>--data</c> a generated corpus is used.
/// Under <c>mpirun -np N</c> the run is data parallel over N processes (each takes 1/N of every micro-batch); rank 0
/// alone prints, logs, evaluates and writes checkpoints, and the losses match the one-process run of the same command.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "run directory (checkpoints, metrics, chart, token shards)", Required = true };
        var model = new Option<string>("--model") { Description = "preset (tiny, small, bench20m) or an HF config.json", DefaultValueFactory = _ => "tiny" };
        var data = new Option<string?>("--data") { Description = "a UTF-8 text file or a folder of them (.txt .text .md .markdown: paragraphs are documents; .jsonl: a \"text\" field per line), or a folder of train_*.tokens (+ val_*.tokens) shards; default: a generated corpus" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer.json (or its folder) to tokenize --data with, e.g. DeepSeek-V3's or one from train-tokenizer; a preset model's vocabulary is resized to it (default: byte-level, vocabulary 257)" };
        var steps = new Option<long?>("--steps") { Description = "optimizer steps of the run (default 1000; with --resume, the saved value)" };
        var batch = new Option<int>("--batch") { Description = "sequences per micro-batch", DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--seq") { Description = "positions per sequence", DefaultValueFactory = _ => 128 };
        var accumulation = new Option<int>("--accum") { Description = "micro-batches per optimizer step (gradient accumulation)", DefaultValueFactory = _ => 1 };
        var lr = new Option<double>("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => 3e-3 };
        var minLr = new Option<double>("--min-lr") { Description = "final learning rate", DefaultValueFactory = _ => 3e-4 };
        var warmup = new Option<long>("--warmup") { Description = "warmup steps", DefaultValueFactory = _ => 50 };
        var schedule = new Option<string>("--schedule") { Description = "wsd (warmup-stable-decay, V3) or cosine", DefaultValueFactory = _ => "wsd" };
        var decayFraction = new Option<double>("--decay-fraction") { Description = "wsd: share of the steps spent decaying", DefaultValueFactory = _ => 0.2 };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW decoupled weight decay", DefaultValueFactory = _ => 0.1 };
        var clip = new Option<double>("--clip") { Description = "global gradient-norm clip (0 = off)", DefaultValueFactory = _ => 1.0 };
        var precision = new Option<string>("--precision") { Description = "f32, bf16 (BF16 GEMM inputs) or fp8 (DeepSeek-V3's block-scaled E4M3, simulated)", DefaultValueFactory = _ => "f32" };
        var mtpWeight = new Option<double>("--mtp-weight") { Description = "λ of the MTP loss", DefaultValueFactory = _ => 0.3 };
        var balanceAlpha = new Option<double>("--balance-alpha") { Description = "α of the sequence-wise balance loss (0 = off)", DefaultValueFactory = _ => 1e-4 };
        var biasSpeed = new Option<double>("--bias-speed") { Description = "γ of aux-loss-free balancing (0 = off)", DefaultValueFactory = _ => 1e-3 };
        var biasFreeze = new Option<long?>("--bias-freeze") { Description = "step from which the selection bias stays fixed" };
        var seed = new Option<ulong>("--seed") { Description = "initialization and data-order seed", DefaultValueFactory = _ => 1 };
        var evalEvery = new Option<int>("--eval-every") { Description = "steps between validation passes (0 = off)", DefaultValueFactory = _ => 50 };
        var evalBatches = new Option<int>("--eval-batches") { Description = "validation micro-batches per pass", DefaultValueFactory = _ => 4 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "steps between checkpoints", DefaultValueFactory = _ => 100 };
        var logEvery = new Option<int>("--log-every") { Description = "steps between plain progress lines (non-interactive output)", DefaultValueFactory = _ => 10 };
        var resume = new Option<bool>("--resume") { Description = "continue from the run directory's latest checkpoint" };
        var threads = new Option<int>("--threads") { Description = "compute threads", DefaultValueFactory = _ => ComputePool.DefaultThreadCount() };
        var plain = new Option<bool>("--plain") { Description = "plain progress lines even on a terminal" };
        var expertParallel = new Option<int>("--expert-parallel") { Description = "spread the routed experts over N processes (N = the mpirun -np count; 1 = off)", DefaultValueFactory = _ => 1 };

        var command = new Command("train", "Train a DeepSeek-V3-architecture model from scratch (MTP, aux-loss-free balancing, FP8) with resumable checkpoints")
        {
            output, model, data, tokenizer, steps, batch, seq, accumulation, lr, minLr, warmup, schedule, decayFraction, weightDecay, clip, precision,
            mtpWeight, balanceAlpha, biasSpeed, biasFreeze, seed, evalEvery, evalBatches, checkpointEvery, logEvery, resume, threads, plain, expertParallel,
        };
        command.SetAction((parse, ct) => Task.FromResult(Execute(parse, ct)));
        return command;

        int Execute(ParseResult parse, CancellationToken ct)
        {
            ICommunicator world;
            try
            {
                world = Communicator.FromEnvironment();
            }
            catch (SharpSeek.Distributed.Mpi.MpiException e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return 1;
            }
            using var _ = world;
            var console = world.Rank == 0 ? Console.Out : TextWriter.Null; // one voice per job
            try
            {
                string outDir = Path.GetFullPath(parse.GetValue(output)!);
                if (world.Rank == 0) Directory.CreateDirectory(outDir);
                world.Barrier();
                using var pool = new ComputePool(Math.Max(1, parse.GetValue(threads)));
                var run = new RunSettings(
                    parse.GetValue(evalEvery), parse.GetValue(evalBatches), parse.GetValue(checkpointEvery), parse.GetValue(logEvery),
                    parse.GetValue(plain) || Console.IsOutputRedirected || Environment.GetEnvironmentVariable("CI") is not null);
                string? latest = parse.GetValue(resume) ? TrainingCheckpoint.Latest(outDir) : null;
                if (parse.GetValue(resume) && latest is null) console.WriteLine($"no checkpoint in {outDir} yet: starting a new run");

                TrainingOptions options;
                ModelConfig config;
                if (latest is not null)
                {
                    (config, var state) = TrainingCheckpoint.ReadConfigAndState(latest);
                    options = state.Options with { Steps = parse.GetValue(steps) ?? state.Options.Steps };
                }
                else
                {
                    config = ResolveModel(parse.GetValue(model)!);
                    options = new TrainingOptions
                    {
                        SequenceLength = parse.GetValue(seq), BatchSequences = parse.GetValue(batch), GradientAccumulation = parse.GetValue(accumulation),
                        Steps = parse.GetValue(steps) ?? 1000, PeakLearningRate = parse.GetValue(lr), MinLearningRate = parse.GetValue(minLr),
                        WarmupSteps = parse.GetValue(warmup), DecayFraction = parse.GetValue(decayFraction),
                        Schedule = parse.GetValue(schedule) switch
                        {
                            "wsd" => ScheduleKind.WarmupStableDecay,
                            "cosine" => ScheduleKind.WarmupCosine,
                            var s => throw new ArgumentException($"--schedule must be wsd or cosine, not '{s}'"),
                        },
                        AdamW = new AdamWSettings(WeightDecay: parse.GetValue(weightDecay)), ClipNorm = parse.GetValue(clip),
                        Precision = Enum.TryParse<TrainingPrecision>(parse.GetValue(precision), ignoreCase: true, out var p) ? p
                            : throw new ArgumentException($"--precision must be f32, bf16 or fp8, not '{parse.GetValue(precision)}'"),
                        MtpWeight = parse.GetValue(mtpWeight), BalanceAlpha = parse.GetValue(balanceAlpha), BiasUpdateSpeed = parse.GetValue(biasSpeed),
                        BiasFreezeStep = parse.GetValue(biasFreeze), Seed = parse.GetValue(seed),
                    };
                }

                // Layout mistakes are reported before any data is prepared.
                int ep = parse.GetValue(expertParallel);
                if (ep != 1 && ep != world.Size)
                    throw new ArgumentException($"--expert-parallel {ep} must equal the number of processes ({world.Size}; start with mpirun -np {ep}) or be 1");
                Trainer.ValidateLayout(options, world.Size, ep > 1);
                (string dataDir, config) = TrainingData.Prepare(new TrainingData.Request(
                    parse.GetValue(data), parse.GetValue(tokenizer), outDir, config, parse.GetValue(model)!, latest is not null, pool.ThreadCount, run.Plain, world));
                using var train = PackedDataset.FromDirectory(dataDir, "train", options.SequenceLength);
                using var validation = Directory.GetFiles(dataDir, "val_*.tokens").Length > 0 ? PackedDataset.FromDirectory(dataDir, "val", options.SequenceLength) : null;
                using var trainer = latest is not null
                    ? Trainer.Resume(latest, train, pool, _ => options, world, expertParallel: ep > 1)
                    : new Trainer(config, options, train, pool, world, expertParallel: ep > 1);
                if (latest is not null) console.WriteLine($"resuming {latest} at step {trainer.Step}");
                string ranks = world.Size > 1 ? $" × {world.Size} ranks ({world.Description}{(ep > 1 ? $", experts spread over {ep}" : "")})" : "";
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"model {config.ParameterCount() / 1e6:F2}M parameters ({config.NumHiddenLayers} blocks + {config.NumNextnPredictLayers} MTP, {config.NRoutedExperts} experts top-{config.NumExpertsPerTok}), {options.Precision}, {options.TokensPerStep} tokens/step, {pool.ThreadCount} threads{ranks}, data {train.TotalTokens:N0} tokens"));
                return world.Rank == 0 ? Run(trainer, validation, outDir, run, ct) : RunFollower(trainer, validation, run, ct);
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or ModelConfigException or NotSupportedException or InvalidOperationException)
            {
                Console.Error.WriteLine(world.Size > 1 ? $"error on rank {world.Rank}: {e.Message}" : "error: " + e.Message);
                // The other ranks may be waiting in a collective for this one: end the whole job now rather than let them hang.
                if (world is SharpSeek.Distributed.Mpi.MpiCommunicator mpi) mpi.Abort(1);
                return 1;
            }
        }
    }

    private sealed record RunSettings(int EvalEvery, int EvalBatches, int CheckpointEvery, int LogEvery, bool Plain);

    private static ModelConfig ResolveModel(string name)
    {
        if (TrainingPresets.ByName(name) is { } preset) return preset;
        if (File.Exists(name)) return ModelConfigJson.Parse(File.ReadAllText(name));
        throw new ArgumentException($"--model '{name}' is neither a preset (tiny, small, bench20m) nor a config.json file");
    }

    /// <summary>
    /// A rank other than 0: the same steps, evaluations and checkpoint preparations as rank 0, in lockstep (each pairs
    /// with rank 0's collectives; under expert parallelism evaluation needs every rank's experts), and nothing written.
    /// </summary>
    private static int RunFollower(Trainer trainer, PackedDataset? validation, RunSettings run, CancellationToken ct)
    {
        var options = trainer.Options;
        var valBatches = validation is null ? [] : BatchLoader.Sequential(validation, options.BatchSequences, run.EvalBatches);
        JobPeakGflops(trainer);
        while (trainer.Step < options.Steps)
        {
            var r = trainer.TrainStep();
            if (run.EvalEvery > 0 && r.Step % run.EvalEvery == 0 && valBatches.Count > 0) trainer.Evaluate(valBatches);
            if (run.CheckpointEvery > 0 && r.Step % run.CheckpointEvery == 0 && r.Step < options.Steps) trainer.PrepareCheckpoint();
            if (!KeepGoing(trainer.World, ct)) break;
        }
        if (valBatches.Count > 0) trainer.Evaluate(valBatches);
        trainer.PrepareCheckpoint();
        return 0;
    }

    /// <summary>The whole job's FMA peak: each rank measures its own, the sum is what MFU is over.</summary>
    private static double JobPeakGflops(Trainer trainer)
    {
        double[] peak = [MachineLimits.PeakFmaGflops(trainer.Pool)];
        trainer.World.AllReduceSum(peak);
        return peak[0];
    }

    /// <summary>Whether to take another step; with several ranks, any rank asked to stop (Ctrl+C reaches each) stops them all at the same step.</summary>
    private static bool KeepGoing(ICommunicator world, CancellationToken ct)
    {
        if (world.Size == 1) return !ct.IsCancellationRequested;
        double[] stop = [ct.IsCancellationRequested ? 1 : 0];
        world.AllReduceMax(stop);
        return stop[0] == 0;
    }

    private static int Run(Trainer trainer, PackedDataset? validation, string outDir, RunSettings run, CancellationToken ct)
    {
        var options = trainer.Options;
        double flopsPerToken = TrainingFlops.PerToken(trainer.Config, options.SequenceLength);
        double peak = JobPeakGflops(trainer);
        var valBatches = validation is null ? [] : BatchLoader.Sequential(validation, options.BatchSequences, run.EvalBatches);
        using var log = new TrainingLog(outDir, keepThroughStep: trainer.Step);
        string chart = Path.Combine(outDir, TrainingLog.ChartFile);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"measured FMA peak {peak:F0} GFLOP/s; model {flopsPerToken / 1e6:F1} MFLOP per token; metrics → {log.Path}"));

        double? lastVal = null;
        var recent = new Queue<double>(); // seconds of the last steps, for tokens/s and ETA
        var status = new Status(trainer.Step, options.Steps);

        void Evaluate()
        {
            if (valBatches.Count == 0) return;
            var e = trainer.Evaluate(valBatches);
            lastVal = e.MainLoss;
            log.Evaluation(trainer.Step, e);
        }

        string SaveCheckpoint()
        {
            trainer.PrepareCheckpoint(); // with the other ranks (expert parallelism gathers the experts here)
            string path = trainer.SaveCheckpoint(outDir);
            SharpSeek.Reporting.TrainingChart.Write(log.Path, chart, firstMtpLayer: trainer.Config.NumHiddenLayers);
            return path;
        }

        bool StepOnce(Action<string> say)
        {
            var r = trainer.TrainStep();
            recent.Enqueue(r.Seconds);
            if (recent.Count > 20) recent.Dequeue();
            double tokensPerSecond = options.TokensPerStep / recent.Average();
            log.Step(r, flopsPerToken, peak);
            if (run.EvalEvery > 0 && r.Step % run.EvalEvery == 0)
            {
                Evaluate();
                say(string.Create(CultureInfo.InvariantCulture, $"eval step {r.Step}: validation loss {lastVal:F4}"));
            }
            status.Update(r, tokensPerSecond, flopsPerToken * tokensPerSecond / (peak * 1e9), lastVal, recent.Average());
            if (run.CheckpointEvery > 0 && r.Step % run.CheckpointEvery == 0 && r.Step < options.Steps)
                say($"checkpoint step {r.Step}: {SaveCheckpoint()}");
            return KeepGoing(trainer.World, ct);
        }

        if (run.Plain)
        {
            while (trainer.Step < options.Steps)
            {
                bool go = StepOnce(Console.WriteLine);
                if (trainer.Step % run.LogEvery == 0 || trainer.Step == options.Steps) Console.WriteLine(status.Line);
                if (!go) break;
            }
        }
        else
        {
            var messages = new List<string>();
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(status.Line), maxValue: options.Steps);
                    task.Value = trainer.Step;
                    var note = ctx.AddTask("[grey]no checkpoint yet[/]", maxValue: 1);
                    while (trainer.Step < options.Steps)
                    {
                        bool go = StepOnce(m => note.Description = Markup.Escape(m));
                        task.Value = trainer.Step;
                        task.Description = Markup.Escape(status.Line);
                        if (!go) break;
                    }
                    note.Value = 1;
                });
        }

        Evaluate();
        string final = SaveCheckpoint();
        Console.WriteLine(ct.IsCancellationRequested ? $"stopped at step {trainer.Step}; checkpoint {final}" : $"done: checkpoint {final}");
        if (lastVal is double v) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"final validation loss {v:F4}"));
        Console.WriteLine($"chart {chart}");
        return 0;
    }

    /// <summary>The one-line summary shown in the progress bar or printed in plain mode.</summary>
    private sealed class Status(long step, long total)
    {
        private static string Ranks(StepReport r) => r.Ranks > 1
            ? string.Create(CultureInfo.InvariantCulture, $" on {r.Ranks} ranks, comm {r.CommunicationSeconds / r.Seconds * 100:F0}%") : "";

        public string Line { get; private set; } = $"step {step}/{total}";

        public void Update(StepReport r, double tokensPerSecond, double mfu, double? validation, double secondsPerStep)
        {
            var eta = TimeSpan.FromSeconds(Math.Max(0, total - r.Step) * secondsPerStep);
            string mtp = r.MtpLosses.Length > 0 ? string.Create(CultureInfo.InvariantCulture, $" mtp {r.MtpLosses[0]:F3}") : "";
            string val = validation is double v ? string.Create(CultureInfo.InvariantCulture, $" | val {v:F4}") : "";
            double load = r.ExpertLoad.Count > 0 ? r.ExpertLoad.Values.Max(StepReport.MaxOverMean) : 0;
            Line = string.Create(CultureInfo.InvariantCulture,
                $"step {r.Step}/{total} | loss {r.Loss:F4} (main {r.MainLoss:F3}{mtp}){val} | lr {r.LearningRate:0.0e0} | {tokensPerSecond:N0} tok/s{Ranks(r)} | MFU {mfu * 100:F1}% | load max/mean {load:F2} | ETA {eta:hh\\:mm\\:ss}");
        }
    }
}
