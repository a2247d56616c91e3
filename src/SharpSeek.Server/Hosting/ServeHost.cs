using SharpSeek.Inference;
using SharpSeek.Server.Accounts;

namespace SharpSeek.Server.Hosting;

/// <summary>
/// <c>sharpseek serve</c> without the argument parsing: loads the chosen model, makes sure an API key exists, starts
/// the server, prints where it is, and serves until cancelled. Returns the process exit code; bad input (a missing or
/// broken model, no tokenizer, a port in use) is one <c>error:</c> line and exit code 1, never an unhandled exception.
/// </summary>
public static class ServeHost
{
    public const int Success = 0;
    public const int Failure = 1;

    /// <param name="whileServing">Runs once the server is up; serving ends when it completes. Null: serve until <paramref name="ct"/> is cancelled.</param>
    public static async Task<int> RunAsync(ModelChoice model, ServerOptions options, TextWriter output, TextWriter error,
        CancellationToken ct, Func<SharpSeekServer, Task>? whileServing = null)
    {
        ChosenModel chosen;
        try { chosen = model.Load(); }
        catch (ModelLoadException e)
        {
            await error.WriteLineAsync("error: " + e.Message);
            return Failure;
        }
        using var served = chosen.Served;
        if (chosen.FallbackNotice is { } notice) await output.WriteLineAsync(notice);

        // The engine cannot run sequences past the positions the model was built for.
        options = options with { Engine = options.Engine with { MaxContext = Math.Min(options.Engine.MaxContext, served.MaxPositions) } };
        SharpSeekServer server;
        string? printedKey;
        try
        {
            printedKey = EnsureDefaultKey(options);
            server = await SharpSeekServer.StartAsync(options, served);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or System.Data.Common.DbException)
        {
            await error.WriteLineAsync(e is ArgumentException
                ? $"error: {e.Message}"
                : $"error: cannot start the server on {options.Host}:{options.Port}: {e.Message}");
            return Failure;
        }
        await using (server)
        {
            await output.WriteLineAsync($"SharpSeek serving {served.Description} at {server.BaseAddress} (API also under {server.BaseAddress}v1)");
            var e = server.Engine;
            await output.WriteLineAsync($"Engine: {e.Options.MaxConcurrentSequences} slots, {e.Options.MaxBatchTokens} rows per step, KV cache {e.KvPages} pages of 64 tokens " +
                                        $"({e.KvMemoryBytes / (1 << 20):N0} MiB, {e.Options.KvCacheType}, {e.KvBytesPerToken:N0} bytes/token)" +
                                        (e.SupportsSpeculation ? ", MTP speculation on" : ""));
            await output.WriteLineAsync($"Chat template: {e.Prompts.TemplateDescription}" + (e.Prompts.SupportsTools ? "; tool calls in DeepSeek's format" : "; no tool-call tokens, requests with tools get 400"));
            if (printedKey is not null)
            {
                await output.WriteLineAsync($"API key: {printedKey}");
                await output.WriteLineAsync($"Web chat: {server.BaseAddress}#key={printedKey}");
            }
            else await output.WriteLineAsync($"Web chat: {server.BaseAddress}");
            foreach (string key in options.ApiKeys.Distinct())
                await output.WriteLineAsync($"Account of key …{key[^Math.Min(4, key.Length)..]}: {SharpSeekServer.AccountNameOf(key)} (the name --cache-share-group takes)");
            if (whileServing is not null)
            {
                await whileServing(server);
                return Success;
            }
            await output.WriteLineAsync("Ctrl+C stops.");
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { }
        }
        return Success;
    }

    /// <summary>With no key given, makes sure one exists; returns it when created here (shown once), else null.</summary>
    private static string? EnsureDefaultKey(ServerOptions options)
    {
        if (options.ApiKeys.Count > 0) return null;
        Directory.CreateDirectory(options.DataDirectory);
        using var store = options.PostgresConnectionString is { } pg ? AccountStore.OpenPostgres(pg) : AccountStore.OpenSqlite(options.AccountsDatabasePath);
        if (store.KeyCount() > 0) return null;
        string key = AccountStore.NewKey();
        store.EnsureKey(key, "default", (long)(options.InitialGrant * 1_000_000_000m));
        return key;
    }
}
