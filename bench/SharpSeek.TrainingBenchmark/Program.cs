using SharpSeek.Distributed;
using SharpSeek.Tensors;
using System.Diagnostics;
using System.Globalization;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training;
using SharpSeek.Training.Data;
using SharpSeek.Training.Precision;
using SharpSeek.Tensors.Diagnostics;

// Training throughput of the ~20M-parameter DeepSeek-V3 config (MLA + MoE + MTP) per precision mode, with MFU against
// the FMA peak measured in the same run. Usage:
//   dotnet run -c Release --project bench/SharpSeek.TrainingBenchmark -- [--threads 2] [--steps 8] [--batch 8] [--seq 256] [--precision f32,bf16,fp8]
// With --mode fidelity it trains the same config in f32, BF16 and FP8 and compares held-out losses instead:
//   dotnet run -c Release --project bench/SharpSeek.TrainingBenchmark -- --mode fidelity [--model bench20m] [--steps 200] [--batch 8]
//     [--seq 128] [--lr 1e-3] [--min-lr 1e-4] [--seeds 1,2,3] [--precisions f32,bf16,fp8] [--val-batches 8]
// With --mode scaling it runs the speed benchmark as 1 process × 1 thread, 1 × 2 threads, (mpirun) 2 ranks × 1 thread,
// and 2 ranks with the experts spread (--expert-parallel 2), and prints tokens/s, communication share and scaling
// efficiency side by side:
//   dotnet run -c Release --project bench/SharpSeek.TrainingBenchmark -- --mode scaling [--steps 8] [--batch 8] [--seq 128]
// The speed benchmark itself runs data parallel when started by mpirun (rank 0 prints).
var opts = Args.Parse(args);
if (opts.String("mode", "speed") == "fidelity")
{
    using var fidelityPool = new ComputePool(opts.Int("threads", 2));
    PrecisionFidelity.Run(opts, fidelityPool);
    return;
}
if (opts.String("mode", "speed") == "scaling")
{
    DataParallelScaling.Run(opts, args);
    return;
}
using var world = Communicator.FromEnvironment();
var console = world.Rank == 0 ? Console.Out : TextWriter.Null;
int threads = opts.Int("threads", 2), steps = opts.Int("steps", 8), batch = opts.Int("batch", 8), seq = opts.Int("seq", 256), warmup = opts.Int("warmup", 2);
var precisions = opts.String("precision", "f32,bf16,fp8").Split(',').Select(p => Enum.Parse<TrainingPrecision>(p, ignoreCase: true)).ToArray();
var config = TrainingPresets.ByName(opts.String("model", "bench20m")) ?? throw new ArgumentException("unknown --model");

using var pool = new ComputePool(threads);
double flopsPerToken = TrainingFlops.PerToken(config, seq);
console.WriteLine($"model: {opts.String("model", "bench20m")}, {config.ParameterCount() / 1e6:F1}M parameters (hidden {config.HiddenSize}, {config.NumHiddenLayers} blocks + {config.NumNextnPredictLayers} MTP, {config.NRoutedExperts} experts top-{config.NumExpertsPerTok} + {config.NSharedExperts} shared, vocab {config.VocabSize})");
console.WriteLine($"batch: {batch} x {seq} = {batch * seq} tokens/step, {threads} threads x {world.Size} process(es); model FLOPs/token (6 x forward MACs x ... see TrainingFlops): {flopsPerToken / 1e6:F1} MFLOP");

string dir = Path.Combine(Path.GetTempPath(), $"sharpseek-trainbench-{Environment.ProcessId}"); // per rank: each writes its own copy
try
{
    // Uniformly random tokens: throughput does not depend on what the text says.
    var rng = new DeterministicRandom(1);
    int tokensNeeded = (steps + warmup + 2) * batch * (seq + 1) + 1;
    var tokenizer = new DelegateTokenizer(_ => Enumerable.Range(0, tokensNeeded).Select(_ => rng.NextInt(config.VocabSize - 1)).ToArray(), config.VocabSize, config.VocabSize - 1);
    TokenShard.Write(["random"], tokenizer, dir, "bench");
    using var data = PackedDataset.FromDirectory(dir, "bench", seq);

    foreach (var precision in precisions)
    {
        var options = new TrainingOptions { SequenceLength = seq, BatchSequences = batch, Steps = steps + warmup, Precision = precision, PeakLearningRate = 1e-3, WarmupSteps = 1 };
        using var trainer = new Trainer(config, options, data, pool, world, expertParallel: opts.Int("expert-parallel", 1) > 1);
        for (int s = 0; s < warmup; s++) trainer.TrainStep();
        var times = new List<double>();
        double communication = 0;
        double peak = JobPeak(world, pool);
        for (int s = 0; s < steps; s++)
        {
            long t0 = Stopwatch.GetTimestamp();
            communication += trainer.TrainStep().CommunicationSeconds;
            times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        double peakAfter = JobPeak(world, pool);
        times.Sort();
        double median = times[times.Count / 2];
        double tokensPerSecond = batch * seq / median;
        double achieved = flopsPerToken * tokensPerSecond / 1e9;
        double peakMedian = (peak + peakAfter) / 2;
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{precision,-5} step {median * 1000,7:F0} ms (min {times[0] * 1000:F0}, max {times[^1] * 1000:F0})  {tokensPerSecond,7:F0} tokens/s  {achieved,6:F1} GFLOP/s  peak {peakMedian,6:F1} GFLOP/s ({peak:F0}/{peakAfter:F0})  MFU {achieved / peakMedian * 100,5:F1}%  comm {communication / times.Sum() * 100:F1}%  activations {trainer.PeakActivationBytes / 1e6:F0} MB"));
    }
}
finally
{
    try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
}

// The whole job's FMA peak: every rank's measured peak added up (MFU of a data-parallel run is over all of them).
static double JobPeak(ICommunicator world, ComputePool pool)
{
    double[] peak = [MachineLimits.PeakFmaGflops(pool)];
    world.AllReduceSum(peak);
    return peak[0];
}

/// <summary>--name value pairs.</summary>
internal sealed class Args(Dictionary<string, string> values)
{
    public static Args Parse(string[] args)
    {
        var d = new Dictionary<string, string>();
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"expected --name value, got '{args[i]}'");
            d[args[i][2..]] = args[i + 1];
        }
        return new Args(d);
    }

    public int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public string String(string name, string fallback) => values.TryGetValue(name, out var v) ? v : fallback;
    public bool Has(string name) => values.ContainsKey(name);
}
