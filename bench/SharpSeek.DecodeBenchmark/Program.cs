using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SharpSeek.Benchmarks;
using SharpSeek.Checkpoints;
using SharpSeek.Checkpoints.Gguf;
using SharpSeek.DecodeBenchmark;
using SharpSeek.Tensors.Threading;

// Decode and prefill speed of SharpSeek and llama.cpp on the same random-weight GGUF files, in one run, with the
// ratios and decode's achieved read bandwidth against this machine's measured limit.
BenchmarkSettings settings;
try
{
    settings = BenchmarkSettings.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
var config = settings.ModelConfig();
Directory.CreateDirectory(settings.Directory);
var inv = CultureInfo.InvariantCulture;

// Token ids drawn once; the last vocabulary id (the placeholder end-of-text) is avoided.
var rng = new Random(17);
int[] prompt = Enumerable.Range(0, settings.PromptTokens).Select(_ => rng.Next(config.VocabSize - 1)).ToArray();
int[] decode = Enumerable.Range(0, settings.DecodeTokens).Select(_ => rng.Next(config.VocabSize - 1)).ToArray();
string promptFile = Path.Combine(settings.Directory, "prompt.tokens");
string decodeFile = Path.Combine(settings.Directory, "decode.tokens");
File.WriteAllText(promptFile, string.Join(",", prompt));
File.WriteAllText(decodeFile, string.Join(",", decode));

Console.WriteLine($"model: {settings.Config}, {config.NumHiddenLayers} layers ({config.FirstKDenseReplace} dense), {config.NRoutedExperts} routed experts " +
                  $"(top-{config.NumExpertsPerTok}) + {config.NSharedExperts} shared, hidden {config.HiddenSize}, vocab {config.VocabSize}; " +
                  $"{config.ParameterCount(includeMtp: false) / 1e9:F2}B parameters");
Console.WriteLine($"prompt {settings.PromptTokens} tokens, decode {settings.DecodeTokens} tokens, {settings.Threads} threads, median of {settings.Repeats} repeats after a warm-up");
double bandwidth;
using (var pool = new ComputePool(settings.Threads)) bandwidth = QuantizedGemvBenchmark.MeasureReadBandwidth(pool);
Console.WriteLine($"measured read bandwidth ({settings.Threads} threads): {bandwidth:F1} GB/s");

var results = new List<object>();
foreach (var type in settings.Types)
{
    string file = Path.Combine(settings.Directory,
        $"{settings.Config}-{config.NumHiddenLayers}L-{config.NRoutedExperts}E-{type}-seed{settings.Seed}.gguf");
    if (!File.Exists(file))
    {
        var clock = Stopwatch.StartNew();
        GgufCheckpointWriter.Write(new RandomCheckpoint(config, settings.Seed), file, new GgufWriteOptions { WeightType = type, Name = $"random {settings.Config}" });
        Console.WriteLine($"wrote {file} ({new FileInfo(file).Length / 1e9:F2} GB) in {clock.Elapsed.TotalSeconds:F0} s");
    }
    long fileBytes = new FileInfo(file).Length;

    // Both engines hold the file (one page cache); their repeats alternate so both see the same machine load.
    var (ours, llama, ourKv, weightBytes) = Measure(file);
    // KV cache read per decode step at the mean decode position, plus the weights.
    double meanContext = settings.PromptTokens + settings.DecodeTokens / 2.0;
    long llamaKv = (long)(config.KvLoraRank + config.QkRopeHeadDim) * config.NumHiddenLayers * (settings.LlamaKvType == "f16" ? 2 : 4);
    double ourBytes = weightBytes + ourKv * meanContext, llamaBytes = weightBytes + llamaKv * meanContext;

    Console.WriteLine();
    Console.WriteLine($"## {type}: {Path.GetFileName(file)} ({fileBytes / 1e9:F2} GB); decode reads {weightBytes / 1e6:F0} MB of weights per token");
    Console.WriteLine("| engine | prefill tok/s | decode tok/s | decode GB/s | of measured bandwidth | KV cache bytes/token |");
    Console.WriteLine("|---|---|---|---|---|---|");
    foreach (var (name, s, bytes, kv) in new[] { ("SharpSeek", ours, ourBytes, ourKv), ("llama.cpp", llama, llamaBytes, llamaKv) })
        Console.WriteLine(string.Create(inv, $"| {name} | {s.PrefillMedian:F1} | {s.DecodeMedian:F2} | {s.DecodeMedian * bytes / 1e9:F1} | {s.DecodeMedian * bytes / 1e9 / bandwidth:P0} | {kv} |"));
    double decodeRatio = ours.DecodeMedian / llama.DecodeMedian, prefillRatio = ours.PrefillMedian / llama.PrefillMedian;
    Console.WriteLine(string.Create(inv, $"SharpSeek / llama.cpp: decode {decodeRatio:F2}× (target ≥ 1.0), prefill {prefillRatio:F2}× (target ≥ 0.5)"));
    Console.WriteLine($"  samples: SharpSeek prefill [{string.Join(", ", ours.Prefill.Select(x => x.ToString("F1", inv)))}] decode [{string.Join(", ", ours.Decode.Select(x => x.ToString("F2", inv)))}]");
    Console.WriteLine($"           llama.cpp prefill [{string.Join(", ", llama.Prefill.Select(x => x.ToString("F1", inv)))}] decode [{string.Join(", ", llama.Decode.Select(x => x.ToString("F2", inv)))}] ({llama.Description})");
    results.Add(new
    {
        type = type.ToString(), file = Path.GetFileName(file), fileBytes, weightBytesPerDecodeToken = weightBytes,
        sharpSeek = new { prefill = ours.Prefill, decode = ours.Decode, kvBytesPerToken = ourKv },
        llamaCpp = new { prefill = llama.Prefill, decode = llama.Decode, kvBytesPerToken = llamaKv, llama.Description },
        decodeRatio, prefillRatio,
    });
}
string json = Path.Combine(settings.Directory, "results.json");
File.WriteAllText(json, JsonSerializer.Serialize(new { settings.Config, layers = config.NumHiddenLayers, experts = config.NRoutedExperts, settings.Threads, bandwidthGBps = bandwidth, results }, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"\nresults: {json}");
return 0;

(SpeedSamples Ours, SpeedSamples Llama, long OurKv, long WeightBytes) Measure(string file)
{
    using var checkpoint = Checkpoint.Open(file);
    using var sharpSeek = new SharpSeekRunner(checkpoint, prompt, decode, settings.Threads);
    using var llamaCpp = new LlamaCppRunner(file, promptFile, decodeFile, settings);
    var samples = new List<(double, double)>[] { [], [] };
    for (int r = 0; r <= settings.Repeats; r++)
    {
        // Alternate which engine goes first, so neither always follows the other's cache footprint.
        var first = r % 2 == 0 ? sharpSeek.Repeat() : llamaCpp.Repeat();
        var second = r % 2 == 0 ? llamaCpp.Repeat() : sharpSeek.Repeat();
        if (r == 0) continue; // warm-up: JIT tiers, page cache, thread pools
        samples[0].Add(r % 2 == 0 ? first : second);
        samples[1].Add(r % 2 == 0 ? second : first);
    }
    SpeedSamples Samples(List<(double Prefill, double Decode)> xs, string description)
        => new([.. xs.Select(x => x.Prefill)], [.. xs.Select(x => x.Decode)], description);
    return (Samples(samples[0], sharpSeek.Description), Samples(samples[1], llamaCpp.Description), sharpSeek.KvCacheBytesPerToken,
        DecodeTraffic.WeightBytesPerToken(checkpoint));
}
