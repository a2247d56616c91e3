using System.CommandLine;
using SharpSeek.Cli.Options;
using SharpSeek.Inference;
using SharpSeek.Server.Hosting;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek serve</c>: the DeepSeek-compatible API and the web chat UI (on 127.0.0.1 unless --host), over <c>--model</c>, else the
/// bundled model (models/sharpseek-r1-tiny), else — saying so — a deterministic random-weight DeepSeek-V3-shaped model.
/// </summary>
internal static class ServeCommand
{
    internal static readonly Option<string?> ModelOption = new("--model") { Description = "GGUF file or HF safetensors folder (config.json + *.safetensors); default: the bundled models/sharpseek-r1-tiny, or the random-weight model when it is absent" };
    internal static readonly Option<bool> RandomOption = new("--random") { Description = "serve the deterministic random-weight model even when the bundled model exists" };
    internal static readonly Option<RandomModelSize> SizeOption = new("--random-size") { Description = "size of the random-weight model (tiny, small, medium)", DefaultValueFactory = _ => RandomModelSize.Small };
    internal static readonly Option<int> SeedOption = new("--seed") { Description = "seed of the random-weight model", DefaultValueFactory = _ => 1 };
    internal static readonly Option<string?> TokenizerOption = new("--tokenizer") { Description = "tokenizer.json or its folder (default: the model's own — tokenizer.json in its folder or GGUF metadata; the built-in byte-level tokenizer for the random model)" };
    internal static readonly Option<int> ContextOption = new("--context") { Description = "positions per sequence (prompt + answer); lowered to the model's max_position_embeddings", DefaultValueFactory = _ => 8192 };

    public static Command Create()
    {
        var host = new Option<string>("--host") { Description = "IP address to listen on; beyond loopback (0.0.0.0, ::, a LAN address) only with --api-key", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port", "-p") { Description = "port to listen on (0 picks a free one)", DefaultValueFactory = _ => 8000 };
        var data = new Option<string>("--data") { Description = "data folder (context cache); the SQLite accounts file goes next to it", DefaultValueFactory = _ => DefaultDataDirectory() };
        var postgres = new Option<string?>("--postgres") { Description = "PostgreSQL connection string for keys, balances and the ledger (default: SQLite)" };
        var keys = new Option<string[]>("--api-key") { Description = "API key to accept (created with the initial grant when new); repeatable", AllowMultipleArgumentsPerToken = false };
        var slots = new Option<int>("--slots") { Description = "sequences generating at once", DefaultValueFactory = _ => 4 };
        var queue = new Option<int>("--queue") { Description = "requests that may wait for a slot (past it: 503)", DefaultValueFactory = _ => 32 };
        var rate = new Option<double>("--rate") { Description = "requests per second per key (past it: 429)", DefaultValueFactory = _ => 20 };
        var runningPerKey = new Option<int?>("--max-running-per-key") { Description = "requests of one key in the engine at once (default: slots - 1, at least 1)" };
        var queuedPerKey = new Option<int?>("--max-queued-per-key") { Description = "requests of one key waiting for its turn (past it: 429; default: half of --queue)" };
        var shareGroups = new Option<string[]>("--cache-share-group") { Description = "NAME=ACCOUNT,ACCOUNT…: accounts that share one context cache (default: each account its own); repeatable", AllowMultipleArgumentsPerToken = false };
        var shutdown = new Option<double>("--shutdown-timeout") { Description = "seconds in-flight requests may run on at shutdown before they are cancelled", DefaultValueFactory = _ => 30 };
        var noMtp = new Option<bool>("--no-speculative") { Description = "turn off MTP self-speculative decoding" };
        var kvMemory = new Option<string?>("--kv-memory") { Description = "memory for KV-cache pages, e.g. 4G or 512M (default: every slot at the full context, plus the context cache); when it runs out the newest sequence is preempted and recomputed" };
        var kvType = new Option<string>("--kv-cache-type") { Description = "element type of cached keys/values: f16 (default, as llama.cpp), bf16 or f32 (exact, twice the memory)", DefaultValueFactory = _ => "f16" };
        var batchTokens = new Option<int>("--batch-tokens") { Description = "rows per forward pass: every running sequence's decode tokens, then prefill chunks", DefaultValueFactory = _ => 512 };

        var command = new Command("serve", "Serve the DeepSeek-compatible API (/chat/completions, /v1/..., /models, /user/balance, /beta/completions, /metrics) and the web chat, on 127.0.0.1 unless --host")
        {
            host, port, data, postgres, keys, slots, queue, rate, runningPerKey, queuedPerKey, shareGroups, shutdown, noMtp, kvMemory, kvType, batchTokens, ModelOption, TokenizerOption, RandomOption, SizeOption, SeedOption, ContextOption,
        };
        command.SetAction(async (parse, ct) =>
        {
            ModelChoice model;
            EngineOptions engine;
            IReadOnlyDictionary<string, IReadOnlyList<string>> groups;
            try
            {
                groups = ShareGroups(parse.GetValue(shareGroups) ?? []);
                if (parse.GetValue(runningPerKey) is < 1) throw new ArgumentException("--max-running-per-key must be at least 1");
                if (parse.GetValue(queuedPerKey) is < 0) throw new ArgumentException("--max-queued-per-key must not be negative");
                if (!(parse.GetValue(shutdown) >= 0)) throw new ArgumentException("--shutdown-timeout must not be negative");
                model = Choice(parse);
                engine = new EngineOptions
                {
                    MaxConcurrentSequences = parse.GetValue(slots),
                    MaxQueuedRequests = parse.GetValue(queue),
                    MaxContext = parse.GetValue(ContextOption),
                    SpeculativeDecoding = !parse.GetValue(noMtp),
                    KvMemoryBytes = parse.GetValue(kvMemory) is { } size ? ByteSize.Parse(size, "--kv-memory") : null,
                    KvCacheType = KvCacheType(parse.GetValue(kvType)!),
                    MaxBatchTokens = parse.GetValue(batchTokens),
                };
                engine.Validate();
            }
            catch (Exception e) when (e is ModelLoadException or ArgumentException)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return ServeHost.Failure;
            }
            var options = new ServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                MaxRunningPerKey = parse.GetValue(runningPerKey),
                MaxQueuedPerKey = parse.GetValue(queuedPerKey),
                CacheShareGroups = groups,
                ShutdownTimeout = TimeSpan.FromSeconds(parse.GetValue(shutdown)),
                ConsoleLog = true,
                DataDirectory = parse.GetValue(data)!,
                PostgresConnectionString = parse.GetValue(postgres),
                ApiKeys = parse.GetValue(keys) ?? [],
                RequestsPerSecondPerKey = parse.GetValue(rate),
                BurstPerKey = Math.Max(1, (int)Math.Ceiling(parse.GetValue(rate) * 2)),
                Engine = engine,
            };
            return await ServeHost.RunAsync(model, options, Console.Out, Console.Error, ct);
        });
        return command;
    }

    /// <summary>The --cache-share-group values (NAME=ACCOUNT,ACCOUNT…) as group → accounts.</summary>
    internal static IReadOnlyDictionary<string, IReadOnlyList<string>> ShareGroups(IEnumerable<string> values)
    {
        var groups = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (string value in values)
        {
            int eq = value.IndexOf('=');
            string name = eq > 0 ? value[..eq].Trim() : "";
            var accounts = eq > 0 ? value[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
            if (name.Length == 0 || accounts.Length == 0) throw new ArgumentException($"--cache-share-group: '{value}' is not NAME=ACCOUNT,ACCOUNT…");
            if (!groups.TryAdd(name, accounts)) throw new ArgumentException($"--cache-share-group: group '{name}' is given twice");
        }
        return groups;
    }

    /// <summary>The --kv-cache-type value as a dtype.</summary>
    internal static Tensors.DType KvCacheType(string text) => text.ToLowerInvariant() switch
    {
        "f16" => Tensors.DType.F16,
        "bf16" => Tensors.DType.BF16,
        "f32" => Tensors.DType.F32,
        _ => throw new ArgumentException($"--kv-cache-type: '{text}' is not one of f16, bf16, f32"),
    };

    /// <summary>The model options of <c>serve</c> and <c>chat</c>; throws <see cref="ModelLoadException"/> when they contradict each other.</summary>
    internal static ModelChoice Choice(ParseResult parse)
    {
        string? path = parse.GetValue(ModelOption);
        // --random-size / --seed name the random model: asking for one means serving it, and with --model they would be ignored silently.
        bool randomShapeGiven = parse.GetResult(SizeOption) is { Implicit: false } || parse.GetResult(SeedOption) is { Implicit: false };
        if (path is not null && randomShapeGiven) throw new ModelLoadException("--random-size and --seed describe the random-weight model; they do not apply with --model");
        return new ModelChoice
        {
            ModelPath = path,
            TokenizerPath = parse.GetValue(TokenizerOption),
            Random = parse.GetValue(RandomOption) || randomShapeGiven,
            RandomSize = parse.GetValue(SizeOption),
            RandomSeed = parse.GetValue(SeedOption),
            MaxPositions = parse.GetValue(ContextOption),
        };
    }

    private static string DefaultDataDirectory() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".sharpseek", "data");
}
