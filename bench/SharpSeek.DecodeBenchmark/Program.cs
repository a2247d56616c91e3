using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SharpSeek.Benchmarks;
using SharpSeek.Checkpoints;
using SharpSeek.Checkpoints.Gguf;
using SharpSeek.DecodeBenchmark;
using SharpSeek.Inference;
using SharpSeek.Model;
using SharpSeek.Tensors.Backend;
using SharpSeek.Tensors.Threading;
using SharpSeek.Tensors.Diagnostics;

// SharpSeek against llama.cpp on the same random-weight GGUF files, both engines in one run, their repeats alternating:
//   single stream: decode and prefill speed, with the ratios and decode's achieved read bandwidth against this
//                  machine's measured limit, and each engine's KV-cache bytes per token;
//   many users (--users): N users arrive at once with distinct prompts, each generates exactly D tokens; total
//                  throughput, decode-phase rate and time to first token of each engine, side by side.
// Usage and timing: BenchmarkSettings.Usage (or --help).
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
Directory.CreateDirectory(settings.Directory);
var inv = CultureInfo.InvariantCulture;
string F(FormattableString s) => s.ToString(inv);

Console.WriteLine($"files: {string.Join(", ", settings.Files)}; layers {settings.Layers?.ToString(inv) ?? "all"}, experts {settings.Experts?.ToString(inv) ?? "all"}; {settings.Threads} threads each");
if (settings.SingleStream)
    Console.WriteLine($"single stream: prompt {settings.PromptTokens} tokens, decode {settings.DecodeTokens} tokens, median of {settings.Repeats} repeats after a warm-up");
if (settings.MultiUser)
    Console.WriteLine($"many users: {string.Join(", ", settings.Users)} users arriving at once, each a distinct {settings.UserPromptTokens}-token prompt and exactly " +
                      $"{settings.UserTokens} generated tokens (greedy, end-of-sequence ignored); median of {settings.UserRepeats} run(s) after a warm-up run");
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {Machine.LoadAverage()} at start");
double bandwidth;
using (var pool = new ComputePool(settings.Threads)) bandwidth = MachineLimits.MeasureReadBandwidth(pool);
Console.WriteLine($"measured read bandwidth ({settings.Threads} threads): {bandwidth:F1} GB/s (measured again before each file)");

var results = new List<FileReport>();
foreach (var file in settings.Files)
{
    var config = settings.ModelConfig(file.Config);
    string path = settings.PathOf(file, config);
    Console.WriteLine();
    Console.WriteLine($"# {file}: {file.Config}, {config.NumHiddenLayers} layers" +
                      (config.NRoutedExperts > 0 ? $" ({config.FirstKDenseReplace} dense), {config.NRoutedExperts} routed experts (top-{config.NumExpertsPerTok}) + {config.NSharedExperts} shared" : " (dense)") +
                      $", hidden {config.HiddenSize}, vocab {config.VocabSize}; {config.ParameterCount(includeMtp: false) / 1e9:F2}B parameters");
    if (!File.Exists(path))
    {
        var clock = Stopwatch.StartNew();
        GgufCheckpointWriter.Write(new RandomCheckpoint(config, settings.Seed), path, new GgufWriteOptions { WeightType = file.Type, Name = $"random {file.Config}" });
        Console.WriteLine($"wrote {path} ({new FileInfo(path).Length / 1e9:F2} GB) in {clock.Elapsed.TotalSeconds:F0} s");
    }
    results.Add(MeasureFile(file, config, path));
    Console.WriteLine($"load average {Machine.LoadAverage()} after {file}");
}

if (results.Count > 1) PrintSummary(results);
string json = Path.Combine(settings.Directory, "results.json");
File.WriteAllText(json, JsonSerializer.Serialize(new
{
    files = settings.Files.Select(f => f.ToString()).ToArray(), layers = settings.Layers, experts = settings.Experts, settings.Threads,
    bandwidthGBps = bandwidth, machine = new { cores = Environment.ProcessorCount, loadAverageAtEnd = Machine.LoadAverage() },
    singleStream = settings.SingleStream ? new { promptTokens = settings.PromptTokens, decodeTokens = settings.DecodeTokens, settings.Repeats } : null,
    manyUsers = settings.MultiUser ? new { users = settings.Users, settings.UserPromptTokens, settings.UserTokens, settings.UserRepeats } : null,
    results,
}, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
Console.WriteLine($"\nresults: {json}");
return 0;

FileReport MeasureFile(BenchmarkFile file, ModelConfig config, string path)
{
    long fileBytes = new FileInfo(path).Length;
    // Token ids drawn once per vocabulary; the last id (the placeholder end-of-text) is avoided. Each user's prompt has
    // its own seed, so no two users share a prefix.
    var rng = new Random(17);
    int[] prompt = Enumerable.Range(0, settings.PromptTokens).Select(_ => rng.Next(config.VocabSize - 1)).ToArray();
    int[] decode = Enumerable.Range(0, settings.DecodeTokens).Select(_ => rng.Next(config.VocabSize - 1)).ToArray();
    int maxUsers = settings.MultiUser ? settings.Users.Max() : 0;
    int[][] userPrompts = Enumerable.Range(0, maxUsers)
        .Select(u => { var r = new Random(1000 + u); return Enumerable.Range(0, settings.UserPromptTokens).Select(_ => r.Next(config.VocabSize - 1)).ToArray(); })
        .ToArray();
    string promptFile = Path.Combine(settings.Directory, "prompt.tokens");
    string decodeFile = Path.Combine(settings.Directory, "decode.tokens");
    string usersFile = Path.Combine(settings.Directory, "user-prompts.tokens");
    File.WriteAllText(promptFile, string.Join(",", prompt));
    File.WriteAllText(decodeFile, string.Join(",", decode));
    File.WriteAllLines(usersFile, userPrompts.Select(p => string.Join(",", p)));

    // One model per file (memory-mapped weights) serves both sections; llama.cpp maps the same file (one page cache).
    using var checkpoint = Checkpoint.Open(path);
    using var pool = new ComputePool(settings.Threads);
    int positions = Math.Max(settings.PromptTokens + settings.DecodeTokens, settings.UserPromptTokens + settings.UserTokens) + 8;
    using var model = checkpoint.CreateModel(new ModelOptions { Backend = new CpuBackend(pool), MaxPositions = positions });
    using var llama = new LlamaCppRunner(path, promptFile, decodeFile, settings.MultiUser ? usersFile : null, settings);
    long weightBytes = DecodeTraffic.WeightBytesPerToken(checkpoint);
    long ourKv = model.KvCacheBytesPerToken;
    // llama.cpp's figure from its own log of the KV cache's size; the expected layout (ours, latent for MLA or K+V for GQA, at
    // its KV type) when the log agrees with it to its rounding or when there was no log line.
    long expectedLlamaKv = config.KvCacheBytesPerToken(AttentionMode.Absorbed, settings.LlamaKvType == "f16" ? 2 : 4);
    var loggedKv = llama.KvCacheBytesPerToken(expectedLlamaKv);
    double llamaKv = loggedKv?.Bytes ?? expectedLlamaKv;
    string kvSource = loggedKv switch
    {
        null => "expected layout; llama.cpp logged no size",
        { MatchesExpected: true } => "its log agrees",
        _ => "from its log",
    };
    Console.WriteLine($"{Path.GetFileName(path)} ({fileBytes / 1e9:F2} GB); decode reads {weightBytes / 1e6:F0} MB of weights per token; " +
                      F($"KV cache bytes/token: SharpSeek {ourKv}, llama.cpp {llamaKv:F0} ({kvSource})"));

    // The bandwidth again, right before this file's measurements (other work on the machine moves it).
    double fileBandwidth = MachineLimits.MeasureReadBandwidth(pool);
    Console.WriteLine($"read bandwidth measured now ({settings.Threads} threads): {fileBandwidth:F1} GB/s");
    // CPU the rest of the machine used while this file was measured: what both engines competed with.
    var cpuAtStart = Machine.CpuSeconds(Environment.ProcessId, llama.ProcessId);
    long wallAtStart = Stopwatch.GetTimestamp();

    SingleStreamReport? single = settings.SingleStream ? SingleStream(model, llama, prompt, decode, weightBytes, ourKv, llamaKv, fileBandwidth) : null;
    // Memory right after the last measurement, while everything is still held.
    var memory = new { sharpSeek = Machine.Memory(Environment.ProcessId), llamaCpp = Machine.Memory(llama.ProcessId) };
    UsersReport[]? users = null;
    if (settings.MultiUser)
    {
        var tokenizer = checkpoint.Gguf is { } gguf ? CheckpointTokenizer.FromGgufMetadata(gguf.Metadata) : null;
        using var engine = new SharpSeekUsersRunner(model, tokenizer ?? throw new InvalidOperationException($"{path} carries no tokenizer"),
            $"decode-benchmark-{Path.GetFileNameWithoutExtension(path)}", userPrompts, settings.UserTokens, maxUsers);
        users = ManyUsers(engine, llama);
        memory = new { sharpSeek = Machine.Memory(Environment.ProcessId), llamaCpp = Machine.Memory(llama.ProcessId) };
    }
    double? othersCpu = null;
    if (cpuAtStart is { } a && Machine.CpuSeconds(Environment.ProcessId, llama.ProcessId) is { } b)
        othersCpu = Math.Max(0, (b.Machine - a.Machine) - (b.Ours - a.Ours)) / (Stopwatch.GetElapsedTime(wallAtStart).TotalSeconds * Environment.ProcessorCount);
    if (othersCpu is double o)
        Console.WriteLine(F($"other processes used {o:P0} of the machine's CPU while this file was measured ({Stopwatch.GetElapsedTime(wallAtStart).TotalMinutes:F1} min)"));
    Console.WriteLine($"memory at the end: SharpSeek {memory.sharpSeek?.ToString() ?? "unknown"}; llama.cpp (node) {memory.llamaCpp?.ToString() ?? "unknown"}");
    return new FileReport(file.ToString(), file.Config, file.Type.ToString(), Path.GetFileName(path), fileBytes, config.NumHiddenLayers,
        config.NRoutedExperts, weightBytes, ourKv, llamaKv, llama.KvCacheLog, llama.Description, single, users,
        new { sharpSeek = memory.sharpSeek?.ToString(), llamaCpp = memory.llamaCpp?.ToString() }, othersCpu, fileBandwidth);
}

SingleStreamReport SingleStream(LanguageModel model, LlamaCppRunner llamaCpp, int[] prompt, int[] decode, long weightBytes, long ourKv, double llamaKv, double bandwidth)
{
    using var sharpSeek = new SharpSeekRunner(model, settings.Threads, prompt, decode);
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
    var ours = Samples(samples[0], sharpSeek.Description);
    var llama = Samples(samples[1], llamaCpp.Description);

    // KV cache read per decode step at the mean decode position, plus the weights.
    double meanContext = settings.PromptTokens + settings.DecodeTokens / 2.0;
    double ourBytes = weightBytes + ourKv * meanContext, llamaBytes = weightBytes + llamaKv * meanContext;
    Console.WriteLine();
    Console.WriteLine($"## single stream: {settings.PromptTokens}-token prefill, {settings.DecodeTokens}-token decode");
    Console.WriteLine("| engine | prefill tok/s | decode tok/s | decode GB/s | of measured bandwidth | KV cache bytes/token |");
    Console.WriteLine("|---|---|---|---|---|---|");
    foreach (var (name, s, bytes, kv) in new[] { ("SharpSeek", ours, ourBytes, (double)ourKv), ("llama.cpp", llama, llamaBytes, llamaKv) })
        Console.WriteLine(F($"| {name} | {s.PrefillMedian:F1} | {s.DecodeMedian:F2} | {s.DecodeMedian * bytes / 1e9:F1} | {s.DecodeMedian * bytes / 1e9 / bandwidth:P0} | {kv:F0} |"));
    double decodeRatio = ours.DecodeMedian / llama.DecodeMedian, prefillRatio = ours.PrefillMedian / llama.PrefillMedian;
    Console.WriteLine(F($"SharpSeek / llama.cpp: decode {decodeRatio:F2}× (target ≥ 1.2), prefill {prefillRatio:F2}× (target ≥ 1.5)"));
    Console.WriteLine($"  samples: SharpSeek prefill [{string.Join(", ", ours.Prefill.Select(x => x.ToString("F1", inv)))}] decode [{string.Join(", ", ours.Decode.Select(x => x.ToString("F2", inv)))}]");
    Console.WriteLine($"           llama.cpp prefill [{string.Join(", ", llama.Prefill.Select(x => x.ToString("F1", inv)))}] decode [{string.Join(", ", llama.Decode.Select(x => x.ToString("F2", inv)))}] ({llama.Description})");
    return new SingleStreamReport(ours.Prefill, ours.Decode, llama.Prefill, llama.Decode, ours.PrefillMedian, ours.DecodeMedian,
        llama.PrefillMedian, llama.DecodeMedian, decodeRatio, prefillRatio);
}

UsersReport[] ManyUsers(SharpSeekUsersRunner sharpSeek, LlamaCppRunner llamaCpp)
{
    // Warm-up (not counted): the smallest user count once on each engine. Each engine already set up its slots or context.
    sharpSeek.Run(settings.Users[0]);
    llamaCpp.Users(settings.Users[0]);
    var reports = new List<UsersReport>();
    for (int k = 0; k < settings.Users.Count; k++)
    {
        int n = settings.Users[k];
        var ours = new List<UsersRun>();
        var theirs = new List<UsersRun>();
        for (int r = 0; r < settings.UserRepeats; r++)
        {
            // Alternate which engine goes first, across user counts and repeats.
            if ((k + r) % 2 == 0) { ours.Add(sharpSeek.Run(n)); theirs.Add(llamaCpp.Users(n)); }
            else { theirs.Add(llamaCpp.Users(n)); ours.Add(sharpSeek.Run(n)); }
        }
        reports.Add(new UsersReport(n, UsersSide.Of(ours), UsersSide.Of(theirs)));
    }

    Console.WriteLine();
    Console.WriteLine($"## many users: N users arrive at once, distinct {settings.UserPromptTokens}-token prompts, {settings.UserTokens} tokens each (greedy); " +
                      $"median of {settings.UserRepeats}");
    Console.WriteLine("throughput = all users' tokens / time from arrival to the last token; decode = tokens after every user has its first one / that phase's time;");
    Console.WriteLine("TTFT = time from arrival to a user's first token (queueing and prefill included), median and worst; ratios are SharpSeek / llama.cpp " +
                      "(higher is better for tok/s, lower for TTFT)");
    Console.WriteLine("| users | throughput tok/s SharpSeek | llama.cpp | ratio | decode tok/s SharpSeek | llama.cpp | ratio | TTFT median s SharpSeek | llama.cpp | TTFT worst s SharpSeek | llama.cpp | ratio |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
    foreach (var u in reports)
    {
        var (a, b) = (u.SharpSeek, u.LlamaCpp);
        Console.WriteLine(F($"| {u.Users} | {a.Throughput:F2} | {b.Throughput:F2} | {u.ThroughputRatio:F2}× | {a.DecodeRate:F2} | {b.DecodeRate:F2} | {u.DecodeRatio:F2}× | {Seconds(a.TtftMedian)} | {Seconds(b.TtftMedian)} | {Seconds(a.TtftWorst)} | {Seconds(b.TtftWorst)} | {u.TtftWorstRatio:F2}× |"));
    }
    // What llama.cpp's batches held, and what a decode step cost at each N: the evidence that it batched the users.
    Console.WriteLine("llama.cpp llama_decode calls (last run of each N: count × [sequences × tokens in the batch], median time):");
    double? step1 = reports.Select(u => u.LlamaCppRuns[^1].MedianStepSeconds(1)).FirstOrDefault(s => s is not null);
    foreach (var u in reports)
    {
        var run = u.LlamaCppRuns[^1];
        double? step = run.MedianStepSeconds(u.Users);
        string perStep = step is double st
            ? F($"; a step of {u.Users} sequence(s) {st * 1000:F0} ms") + (step1 is double s1 && u.Users > 1 ? F($" = {st / s1:F2}× a 1-sequence step for {u.Users}× the tokens") : "")
            : "";
        Console.WriteLine($"  N={u.Users}: {DescribeCalls(run.Calls!)}{perStep}");
    }
    Console.WriteLine("SharpSeek per N: decode-phase time per user token (all users advance one token) = N / decode rate: " +
                      string.Join(", ", reports.Select(u => F($"N={u.Users} {u.Users / u.SharpSeek.DecodeRate * 1000:F1} ms"))) +
                      "; llama.cpp: " + string.Join(", ", reports.Select(u => F($"N={u.Users} {u.Users / u.LlamaCpp.DecodeRate * 1000:F1} ms"))));
    Console.WriteLine($"  ({sharpSeek.Description})");
    return reports.ToArray();
}

static string Seconds(double s) => s.ToString(s >= 10 ? "F1" : s >= 1 ? "F2" : "F3", CultureInfo.InvariantCulture);

static string DescribeCalls(DecodeCall[] calls)
    => string.Join(", ", calls.GroupBy(c => (c.Sequences, c.Tokens))
        .Select(g => string.Create(CultureInfo.InvariantCulture,
            $"{g.Count()}× [{g.Key.Sequences} seq × {g.Key.Tokens} tok] {Statistics.Median(g.Select(c => c.Seconds).ToArray()) * 1000:F0} ms")));

void PrintSummary(List<FileReport> reports)
{
    Console.WriteLine();
    Console.WriteLine("# summary: SharpSeek / llama.cpp (same file, same run)");
    var header = new List<string> { "file" };
    if (settings.SingleStream) header.AddRange(["decode 1 stream", "prefill"]);
    if (settings.MultiUser) header.AddRange(settings.Users.Select(n => $"throughput N={n}"));
    if (settings.MultiUser) header.Add($"TTFT worst N={settings.Users[^1]}");
    Console.WriteLine($"| {string.Join(" | ", header)} |");
    Console.WriteLine($"|{string.Concat(Enumerable.Repeat("---|", header.Count))}");
    foreach (var r in reports)
    {
        var cells = new List<string> { r.Name };
        if (r.SingleStream is { } s) cells.AddRange([F($"{s.DecodeRatio:F2}×"), F($"{s.PrefillRatio:F2}×")]);
        if (r.ManyUsers is { } u)
        {
            cells.AddRange(u.Select(x => F($"{x.SharpSeek.Throughput / x.LlamaCpp.Throughput:F2}×")));
            cells.Add(F($"{u[^1].SharpSeek.TtftWorst / u[^1].LlamaCpp.TtftWorst:F2}×"));
        }
        Console.WriteLine($"| {string.Join(" | ", cells)} |");
    }
}
