using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;
using SharpSeek.Tensors.Diagnostics;

// Serving benchmark over a real server on 127.0.0.1 (HTTP + SSE, the same path clients take):
//   1. TTFT of a 2,000-token prompt: cache miss vs cache hit (target: hit <= 0.1 x miss)
//   2. decode throughput (tokens/s over all streams) at 1, 4 and 16 concurrent streams
//   3. MTP self-speculative decoding vs plain decoding (engine level), with the draft acceptance rate
//      With --mtp-model PATH, (3) also runs on that checkpoint (e.g. the bundled model, whose MTP head was trained)
//      with a chat-formatted reasoning prompt, where the acceptance rate means something.
// Medians over repeats; ratios are measured in the same run.
// Usage: dotnet run -c Release --project bench/SharpSeek.ServingBenchmark [-- --size small|medium --repeats N --mtp-model PATH
//        --sections ttft,throughput,mtp,router]
//   4. (router) the router's overhead on the TTFT of a cache hit, and 12 streams over 3 replicas vs 1 replica

var size = RandomModelSize.Medium;
int repeats = 5;
string? mtpModel = null;
var sections = new HashSet<string> { "ttft", "throughput", "mtp" };
for (int i = 0; i < args.Length - 1; i++)
{
    if (args[i] == "--size") size = Enum.Parse<RandomModelSize>(args[i + 1], ignoreCase: true);
    if (args[i] == "--repeats") repeats = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture);
    if (args[i] == "--mtp-model") mtpModel = args[i + 1];
    if (args[i] == "--sections") sections = [.. args[i + 1].Split(',')];
}

const string key = "sk-benchmark";
using var served = ServedModel.CreateRandom(size, seed: 1, maxPositions: 4096);
Console.WriteLine($"model: {served.Identity} ({served.Model.Config.NumHiddenLayers} layers, hidden {served.Model.Config.HiddenSize}), threads: {Environment.ProcessorCount}");
string data = Path.Combine(Path.GetTempPath(), "sharpseek-serving-bench", Guid.NewGuid().ToString("N"), "data");

// ---- 1. TTFT hit vs miss ------------------------------------------------------------------------------------
if (sections.Contains("ttft"))
await using (var server = await SharpSeekServer.StartAsync(new ServerOptions
{
    Port = 0, DataDirectory = data, ApiKeys = [key], RequestsPerSecondPerKey = 1e6, BurstPerKey = 1_000_000,
    Engine = new EngineOptions { MaxContext = 4096, MaxConcurrentSequences = 1, SpeculativeDecoding = false },
}, served))
{
    using var http = Client(server);
    var miss = new List<double>();
    var hit = new List<double>();
    for (int r = 0; r < repeats; r++)
    {
        string text = RandomText(1997, 1000 + r); // + BOS, <｜User｜>, <｜Assistant｜> = 2,000 tokens with the byte tokenizer
        var (m, mHit) = await TimeToFirstToken(http, text);
        var (h, hHit) = await TimeToFirstToken(http, text);
        if (mHit != 0 || hHit < 1984) throw new InvalidOperationException($"unexpected cache accounting: miss run hit {mHit}, hit run hit {hHit}");
        miss.Add(m);
        hit.Add(h);
    }
    Console.WriteLine($"TTFT, 2,000-token prompt (median of {repeats}): miss {Statistics.Median(miss):F1} ms, hit {Statistics.Median(hit):F1} ms (>= 1,984 cached), hit/miss = {Statistics.Median(hit) / Statistics.Median(miss):F3}");
}

// ---- 2. Throughput at 1, 4, 16 streams ----------------------------------------------------------------------
if (sections.Contains("throughput"))
await using (var server = await SharpSeekServer.StartAsync(new ServerOptions
{
    Port = 0, DataDirectory = data + "-tp", ApiKeys = [key], RequestsPerSecondPerKey = 1e6, BurstPerKey = 1_000_000,
    MaxRunningPerKey = 16, MaxQueuedPerKey = 16, // one key plays every user here
    Engine = new EngineOptions { MaxContext = 4096, MaxConcurrentSequences = 16, MaxQueuedRequests = 16, SpeculativeDecoding = false },
}, served))
{
    using var http = Client(server);
    foreach (int streams in new[] { 1, 4, 16 })
    {
        var rates = new List<double>();
        for (int r = 0; r < Math.Max(1, repeats / 2); r++)
        {
            const int tokens = 64;
            var sw = Stopwatch.StartNew();
            var counts = await Task.WhenAll(Enumerable.Range(0, streams).Select(s => StreamTokens(http, $"stream {s} run {r}", tokens)));
            rates.Add(counts.Sum() / sw.Elapsed.TotalSeconds);
        }
        Console.WriteLine($"throughput, {streams,2} concurrent streams x 64 tokens: {Statistics.Median(rates):F1} tokens/s (median)");
    }
    Console.WriteLine($"  engine: {server.Engine.Steps} forward passes, {(double)server.Engine.BatchRows / Math.Max(1, server.Engine.Steps):F1} rows per pass");
}

// ---- 4. Router: overhead on a cache hit, and 3 replicas vs 1 ---------------------------------------------------
// The box has 2 cores: three replicas share them, so their total is about the router working, not about scale.
if (sections.Contains("router"))
{
    ServerOptions ReplicaOptions(string dir) => new()
    {
        Port = 0, DataDirectory = dir, ApiKeys = [key], RequestsPerSecondPerKey = 1e6, BurstPerKey = 1_000_000, MaxRunningPerKey = 16, MaxQueuedPerKey = 16,
        Engine = new EngineOptions { MaxContext = 4096, MaxConcurrentSequences = 8, MaxQueuedRequests = 16, SpeculativeDecoding = false },
    };
    var replicas = new List<SharpSeekServer>();
    for (int i = 0; i < 3; i++) replicas.Add(await SharpSeekServer.StartAsync(ReplicaOptions(data + "-router" + i), served));
    try
    {
        await using (var one = await SharpSeek.Router.RouterServer.StartAsync(new SharpSeek.Router.RouterOptions { Port = 0, Replicas = [replicas[0].BaseAddress], Tokenizer = served.Tokenizer }, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance))
        {
            using var direct = Client(replicas[0]);
            using var routed = Client(replicas[0]);
            routed.BaseAddress = one.BaseAddress;
            var viaDirect = new List<double>();
            var viaRouter = new List<double>();
            for (int r = 0; r < 4 * repeats; r++)
            {
                string text = RandomText(500, 5000 + r);
                await TimeToFirstToken(direct, text); // fills the cache: every timed request below is a hit
                viaDirect.Add((await TimeToFirstToken(direct, text)).Ms);
                viaRouter.Add((await TimeToFirstToken(routed, text)).Ms);
            }
            double d = Statistics.Median(viaDirect), rt = Statistics.Median(viaRouter);
            Console.WriteLine($"router, TTFT of a cached 500-token prompt (median of {viaDirect.Count}): direct {d:F2} ms, through the router {rt:F2} ms, overhead {rt - d:F2} ms");
            foreach (var (label, http) in new[] { ("1 replica, direct", direct), ("1 replica via the router", routed) })
            {
                var sw = Stopwatch.StartNew();
                var counts = await Task.WhenAll(Enumerable.Range(0, 12).Select(s => StreamTokens(http, $"{label} stream {s}", 32)));
                Console.WriteLine($"router, 12 streams x 32 tokens, {label}: {counts.Sum() / sw.Elapsed.TotalSeconds:F1} tokens/s");
            }
        }
        await using (var three = await SharpSeek.Router.RouterServer.StartAsync(new SharpSeek.Router.RouterOptions { Port = 0, Replicas = replicas.Select(x => x.BaseAddress).ToList(), Tokenizer = served.Tokenizer }, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance))
        {
            using var routed = Client(replicas[0]);
            routed.BaseAddress = three.BaseAddress;
            using var direct = Client(replicas[0]);
            foreach (var (label, http) in new[] { ("3 replicas via the router", routed) })
            {
                var sw = Stopwatch.StartNew();
                var counts = await Task.WhenAll(Enumerable.Range(0, 12).Select(s => StreamTokens(http, $"{label} stream {s}", 32)));
                Console.WriteLine($"router, 12 streams x 32 tokens, {label}: {counts.Sum() / sw.Elapsed.TotalSeconds:F1} tokens/s ({Environment.ProcessorCount} cores shared by every replica)");
            }
        }
    }
    finally
    {
        foreach (var r in replicas) await r.DisposeAsync();
    }
}

// ---- 3. MTP speculative vs plain ----------------------------------------------------------------------------
if (!sections.Contains("mtp")) return 0;
CompareSpeculative(served, served.Tokenizer.Encode(RandomText(200, 7)), 128, repeats,
    "random weights: the MTP head was not trained to agree with the main model, so acceptance is near chance; a trained V3 head reports 85-90%");
if (mtpModel is not null)
{
    using var trained = ServedModel.Open(mtpModel, maxPositions: 512);
    Console.WriteLine($"model: {trained.Identity} ({trained.Model.Config.NumHiddenLayers} layers + {trained.Model.Config.NumNextnPredictLayers} MTP, hidden {trained.Model.Config.HiddenSize})");
    var prompt = new ChatPromptFormatter(trained.Tokenizer).Format([new PromptMessage("user", "What is 47 + 38 * 2?")], ChatMode.Reasoner).Tokens;
    CompareSpeculative(trained, prompt, Math.Min(128, trained.Model.Config.MaxPositionEmbeddings - prompt.Length - 2), repeats,
        "trained MTP head; greedy output is identical with and without speculation (tested)");
}
return 0;

static void CompareSpeculative(ServedModel served, int[] prompt, int maxTokens, int repeats, string note)
{
    double Rate(bool speculative, out double acceptance, out string time)
    {
        using var engine = new InferenceEngine(served.Model, served.Tokenizer, served.Identity,
            new EngineOptions { MaxContext = Math.Min(4096, served.Model.Config.MaxPositionEmbeddings), MaxConcurrentSequences = 1, SpeculativeDecoding = speculative });
        var rates = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            if (!engine.TrySubmit(new GenerationRequest { PromptTokens = prompt, MaxTokens = maxTokens, IgnoreEndOfSequence = true, Sampling = new SamplingSettings { Temperature = 0 }, UseContextCache = false },
                    default, out var stream)) throw new InvalidOperationException("engine refused");
            var result = stream.CollectAsync().GetAwaiter().GetResult();
            rates.Add(result.Usage.CompletionTokens / (result.GenerationTime - result.TimeToFirstToken).TotalSeconds);
        }
        acceptance = engine.DraftAcceptanceRate;
        var t = engine.StepTime;
        time = $"{engine.Steps} steps: forward {t.Forward.TotalMilliseconds:F0} ms, MTP {t.Mtp.TotalMilliseconds:F0} ms, draw {t.Drawing.TotalMilliseconds:F0} ms, plan {t.Planning.TotalMilliseconds:F0} ms";
        return Statistics.Median(rates);
    }
    double plain = Rate(false, out _, out string plainTime);
    double mtp = Rate(true, out double accepted, out string mtpTime);
    Console.WriteLine($"decode, 1 stream, greedy, {maxTokens} tokens: plain {plain:F1} tokens/s, MTP speculative {mtp:F1} tokens/s, speed-up {mtp / plain:F2}x, draft acceptance {accepted:P1}");
    Console.WriteLine($"  ({note})");
    Console.WriteLine($"  plain: {plainTime}; speculative: {mtpTime}");
}

static HttpClient Client(SharpSeekServer server)
{
    var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(10) };
    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "sk-benchmark");
    return http;
}

static async Task<(double Ms, int Hit)> TimeToFirstToken(HttpClient http, string text)
{
    string body = JsonSerializer.Serialize(new { model = "deepseek-chat", messages = new[] { new { role = "user", content = text } }, max_tokens = 2, ignore_eos = true, stream = true, stream_options = new { include_usage = true } });
    var sw = Stopwatch.StartNew();
    using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") }, HttpCompletionOption.ResponseHeadersRead);
    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
    double first = -1;
    int hit = -1;
    while (await reader.ReadLineAsync() is { } line)
    {
        if (!line.StartsWith("data: {", StringComparison.Ordinal)) continue;
        using var doc = JsonDocument.Parse(line.AsMemory(6));
        var root = doc.RootElement;
        if (first < 0 && root.GetProperty("choices").EnumerateArray().Any(c => c.GetProperty("delta").TryGetProperty("content", out var ct) && ct.ValueKind == JsonValueKind.String && ct.GetString()!.Length > 0))
            first = sw.Elapsed.TotalMilliseconds;
        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object) hit = usage.GetProperty("prompt_cache_hit_tokens").GetInt32();
    }
    return (first < 0 ? sw.Elapsed.TotalMilliseconds : first, hit);
}

static async Task<int> StreamTokens(HttpClient http, string text, int tokens)
{
    string body = JsonSerializer.Serialize(new { model = "deepseek-chat", messages = new[] { new { role = "user", content = text } }, max_tokens = tokens, ignore_eos = true, stream = true, stream_options = new { include_usage = true } });
    using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") }, HttpCompletionOption.ResponseHeadersRead);
    response.EnsureSuccessStatusCode();
    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
    int completion = 0;
    while (await reader.ReadLineAsync() is { } line)
    {
        if (!line.StartsWith("data: {", StringComparison.Ordinal) || !line.Contains("\"usage\"", StringComparison.Ordinal)) continue;
        using var doc = JsonDocument.Parse(line.AsMemory(6));
        completion = doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
    }
    return completion;
}

static string RandomText(int bytes, int seed)
{
    var rng = new Random(seed);
    var sb = new StringBuilder(bytes);
    while (sb.Length < bytes) sb.Append((char)('a' + rng.Next(26)));
    return sb.ToString();
}

