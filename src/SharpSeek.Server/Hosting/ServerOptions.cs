using SharpSeek.Inference;

namespace SharpSeek.Server.Hosting;

/// <summary>Prices per million tokens (CNY), split as DeepSeek bills them.</summary>
public sealed record ModelPrice(decimal CacheHitPerMillion, decimal CacheMissPerMillion, decimal OutputPerMillion)
{
    /// <summary>Cost in nano-yuan (1e-9 CNY) of a request's tokens.</summary>
    public long CostNano(int hitTokens, int missTokens, int outputTokens) =>
        (long)decimal.Round(hitTokens * CacheHitPerMillion * 1000m + missTokens * CacheMissPerMillion * 1000m + outputTokens * OutputPerMillion * 1000m);

    /// <summary>The most a request can cost: every prompt token a cache miss, every allowed output token generated.</summary>
    public long MaxCostNano(int promptTokens, int maxOutputTokens) =>
        Math.Max(CostNano(0, promptTokens, maxOutputTokens), CostNano(promptTokens, 0, maxOutputTokens));

    /// <summary>Output tokens that <paramref name="budgetNano"/> covers after the prompt's worst case (0 when it covers none).</summary>
    public int AffordableOutputTokens(int promptTokens, long budgetNano)
    {
        long left = budgetNano - MaxCostNano(promptTokens, 0);
        if (left <= 0) return 0;
        if (OutputPerMillion <= 0) return int.MaxValue;
        decimal perToken = OutputPerMillion * 1000m;
        return (int)Math.Min(int.MaxValue, Math.Floor(left / perToken));
    }
}

/// <summary>Everything a <see cref="SharpSeekServer"/> is configured with.</summary>
public sealed record ServerOptions
{
    /// <summary>
    /// IP address and port to listen on (port 0 picks a free one). An address beyond loopback (0.0.0.0, ::, a LAN
    /// address) is allowed only with <see cref="ApiKeys"/> given, so a server reachable from the network never runs on
    /// a key nobody chose.
    /// </summary>
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 8000;
    /// <summary>Holds the context cache; the SQLite accounts file goes next to it (&lt;dir&gt;.accounts.db).</summary>
    public required string DataDirectory { get; init; }
    /// <summary>PostgreSQL connection string; null uses SQLite.</summary>
    public string? PostgresConnectionString { get; init; }
    public EngineOptions Engine { get; init; } = new();
    public ContextCacheOptions? ContextCache { get; init; }
    /// <summary>How often a waiting request gets a keep-alive (blank line, or SSE comment when streaming).</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Requests per second a key may start (token bucket); past it, 429.</summary>
    public double RequestsPerSecondPerKey { get; init; } = 20;
    /// <summary>Burst size of the per-key bucket.</summary>
    public int BurstPerKey { get; init; } = 40;
    /// <summary>
    /// Requests of one key in the engine at once (generating, or holding an engine queue place); more wait at the
    /// key's own gate. Null: one less than the engine's slots (at least 1), so one key never takes every slot.
    /// </summary>
    public int? MaxRunningPerKey { get; init; }
    /// <summary>Requests of one key waiting at its gate; past it, 429. Null: half the engine queue (at least 1).</summary>
    public int? MaxQueuedPerKey { get; init; }
    public int RunningPerKey => MaxRunningPerKey ?? Math.Max(1, Engine.MaxConcurrentSequences - 1);
    public int QueuedPerKey => MaxQueuedPerKey ?? Math.Max(1, Engine.MaxQueuedRequests / 2);
    /// <summary>
    /// Context-cache sharing groups: group name → account names whose requests share one cache partition. Every other
    /// account has a partition of its own.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> CacheShareGroups { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>On shutdown, how long in-flight requests may run on before they are cancelled.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Write request logs to the console (the serve command turns this on).</summary>
    public bool ConsoleLog { get; init; }
    /// <summary>
    /// Names this server's balance reservations in the store; at start it drops those a previous run of the same
    /// instance left behind (a crash). Null: machine name and data folder.
    /// </summary>
    public string? InstanceName { get; init; }
    public string Instance => InstanceName ?? Environment.MachineName + ":" + Path.GetFullPath(DataDirectory);
    /// <summary>max_tokens when a request gives none.</summary>
    public int DefaultMaxTokens { get; init; } = 4096;
    /// <summary>Balance a key created by the server (the default key, --api-key) starts with, in CNY.</summary>
    public decimal InitialGrant { get; init; } = 10m;
    /// <summary>Keys made valid at start-up (created with <see cref="InitialGrant"/> when new).</summary>
    public IReadOnlyList<string> ApiKeys { get; init; } = [];
    public ModelPrice ChatPrice { get; init; } = new(0.5m, 2m, 8m);
    public ModelPrice ReasonerPrice { get; init; } = new(1m, 4m, 16m);

    /// <summary>Settlements the store refused after every retry, kept to be written at the next start.</summary>
    public string PendingLedgerPath => Path.Combine(DataDirectory, "ledger-pending.jsonl");

    public string AccountsDatabasePath
    {
        get
        {
            string full = Path.GetFullPath(DataDirectory).TrimEnd(Path.DirectorySeparatorChar);
            return Path.Combine(Path.GetDirectoryName(full)!, Path.GetFileName(full) + ".accounts.db");
        }
    }
}
