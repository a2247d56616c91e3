using SharpSeek.Inference;

namespace SharpSeek.Server.Hosting;

/// <summary>Prices per million tokens (CNY), split as DeepSeek bills them.</summary>
public sealed record ModelPrice(decimal CacheHitPerMillion, decimal CacheMissPerMillion, decimal OutputPerMillion)
{
    /// <summary>Cost in nano-yuan (1e-9 CNY) of a request's tokens.</summary>
    public long CostNano(int hitTokens, int missTokens, int outputTokens) =>
        (long)decimal.Round(hitTokens * CacheHitPerMillion * 1000m + missTokens * CacheMissPerMillion * 1000m + outputTokens * OutputPerMillion * 1000m);
}

/// <summary>Everything a <see cref="SharpSeekServer"/> is configured with.</summary>
public sealed record ServerOptions
{
    /// <summary>Loopback address and port to listen on (port 0 picks a free one).</summary>
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
    /// <summary>max_tokens when a request gives none.</summary>
    public int DefaultMaxTokens { get; init; } = 4096;
    /// <summary>Balance a key created by the server (the default key, --api-key) starts with, in CNY.</summary>
    public decimal InitialGrant { get; init; } = 10m;
    /// <summary>Keys made valid at start-up (created with <see cref="InitialGrant"/> when new).</summary>
    public IReadOnlyList<string> ApiKeys { get; init; } = [];
    public ModelPrice ChatPrice { get; init; } = new(0.5m, 2m, 8m);
    public ModelPrice ReasonerPrice { get; init; } = new(1m, 4m, 16m);

    public string AccountsDatabasePath
    {
        get
        {
            string full = Path.GetFullPath(DataDirectory).TrimEnd(Path.DirectorySeparatorChar);
            return Path.Combine(Path.GetDirectoryName(full)!, Path.GetFileName(full) + ".accounts.db");
        }
    }
}
