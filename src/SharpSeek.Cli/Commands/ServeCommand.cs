using System.CommandLine;
using SharpSeek.Inference;
using SharpSeek.Server.Accounts;
using SharpSeek.Server.Hosting;
using SharpSeek.Tokenizer;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek serve</c>: the DeepSeek-compatible API and the web chat UI on 127.0.0.1. Until a trained model ships,
/// it serves a deterministic random-weight DeepSeek-V3-shaped model (gibberish text, real machinery).
/// </summary>
internal static class ServeCommand
{
    internal static readonly Option<string?> ModelOption = new("--model") { Description = "model file or folder (GGUF / safetensors); needs the checkpoint loader, not yet available: omit to serve the built-in random model" };
    internal static readonly Option<RandomModelSize> SizeOption = new("--random-size") { Description = "size of the built-in random-weight model (tiny, small, medium)", DefaultValueFactory = _ => RandomModelSize.Small };
    internal static readonly Option<int> SeedOption = new("--seed") { Description = "seed of the built-in random-weight model", DefaultValueFactory = _ => 1 };
    internal static readonly Option<string?> TokenizerOption = new("--tokenizer") { Description = "tokenizer.json or its folder (default: the built-in byte-level tokenizer with DeepSeek's special tokens)" };
    internal static readonly Option<int> ContextOption = new("--context") { Description = "positions per sequence (prompt + answer)", DefaultValueFactory = _ => 8192 };

    public static Command Create()
    {
        var port = new Option<int>("--port", "-p") { Description = "port on 127.0.0.1 (0 picks a free one)", DefaultValueFactory = _ => 8000 };
        var data = new Option<string>("--data") { Description = "data folder (context cache); the SQLite accounts file goes next to it", DefaultValueFactory = _ => DefaultDataDirectory() };
        var postgres = new Option<string?>("--postgres") { Description = "PostgreSQL connection string for keys, balances and the ledger (default: SQLite)" };
        var keys = new Option<string[]>("--api-key") { Description = "API key to accept (created with the initial grant when new); repeatable", AllowMultipleArgumentsPerToken = false };
        var slots = new Option<int>("--slots") { Description = "sequences generating at once", DefaultValueFactory = _ => 4 };
        var queue = new Option<int>("--queue") { Description = "requests that may wait for a slot (past it: 503)", DefaultValueFactory = _ => 32 };
        var rate = new Option<double>("--rate") { Description = "requests per second per key (past it: 429)", DefaultValueFactory = _ => 20 };
        var noMtp = new Option<bool>("--no-speculative") { Description = "turn off MTP self-speculative decoding" };

        var command = new Command("serve", "Serve the DeepSeek-compatible API (/chat/completions, /v1/..., /models, /user/balance, /beta/completions, /metrics) and the web chat on 127.0.0.1")
        {
            port, data, postgres, keys, slots, queue, rate, noMtp, ModelOption, SizeOption, SeedOption, TokenizerOption, ContextOption,
        };
        command.SetAction(async (parse, ct) =>
        {
            ServedModel served;
            try { served = LoadModel(parse); }
            catch (Exception e) when (e is ArgumentException or IOException or NotSupportedException or TokenizerFileException)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return 1;
            }
            using var _ = served;
            var apiKeys = parse.GetValue(keys) ?? [];
            string dataDir = parse.GetValue(data)!;
            var options = new ServerOptions
            {
                Port = parse.GetValue(port),
                DataDirectory = dataDir,
                PostgresConnectionString = parse.GetValue(postgres),
                ApiKeys = apiKeys,
                RequestsPerSecondPerKey = parse.GetValue(rate),
                BurstPerKey = Math.Max(1, (int)Math.Ceiling(parse.GetValue(rate) * 2)),
                Engine = new EngineOptions
                {
                    MaxConcurrentSequences = parse.GetValue(slots),
                    MaxQueuedRequests = parse.GetValue(queue),
                    MaxContext = parse.GetValue(ContextOption),
                    SpeculativeDecoding = !parse.GetValue(noMtp),
                },
            };
            string? printedKey = null;
            if (apiKeys.Length == 0)
            {
                // No key given: make sure one exists, and show it once when it is created here.
                using var store = options.PostgresConnectionString is { } pg ? AccountStore.OpenPostgres(pg) : AccountStore.OpenSqlite(options.AccountsDatabasePath);
                if (store.KeyCount() == 0)
                {
                    printedKey = AccountStore.NewKey();
                    store.EnsureKey(printedKey, "default", (long)(options.InitialGrant * 1_000_000_000m));
                }
            }
            await using var server = await SharpSeekServer.StartAsync(options, served);
            Console.WriteLine($"SharpSeek serving {served.Identity} at {server.BaseAddress} (API also under {server.BaseAddress}v1)");
            if (printedKey is not null)
            {
                Console.WriteLine($"API key: {printedKey}");
                Console.WriteLine($"Web chat: {server.BaseAddress}#key={printedKey}");
            }
            else Console.WriteLine($"Web chat: {server.BaseAddress}");
            Console.WriteLine("Ctrl+C stops.");
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { }
            return 0;
        });
        return command;
    }

    internal static ServedModel LoadModel(ParseResult parse)
    {
        if (parse.GetValue(ModelOption) is { } path)
            throw new NotSupportedException($"loading '{path}' needs the checkpoint loader (SharpSeek.Checkpoints), which is not available yet; omit --model to serve the built-in random-weight model");
        ByteLevelBpeTokenizer? tokenizer = null;
        if (parse.GetValue(TokenizerOption) is { } t)
            tokenizer = Directory.Exists(t) ? ByteLevelBpeTokenizer.FromDirectory(t) : ByteLevelBpeTokenizer.FromFile(t);
        int context = parse.GetValue(ContextOption);
        if (context < 2) throw new ArgumentException("--context must be at least 2");
        return ServedModel.CreateRandom(parse.GetValue(SizeOption), parse.GetValue(SeedOption), context, tokenizer);
    }

    private static string DefaultDataDirectory() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".sharpseek", "data");
}
