using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using SharpSeek.Inference;
using SharpSeek.Server.Accounts;
using SharpSeek.Server.Admission;
using SharpSeek.Server.Api;
using SharpSeek.Server.Monitoring;

namespace SharpSeek.Server.Hosting;

/// <summary>What every request handler shares: the engine, the account store, admission, metrics, logs and options.</summary>
public sealed class ServerState : IDisposable
{
    private readonly Dictionary<string, string> _shareGroupOf = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdown = new();
    private int _inFlight;

    internal ServerState(ServerOptions options, ServedModel served, InferenceEngine engine, AccountStore store, ILoggerFactory logs)
    {
        Options = options;
        Served = served;
        Engine = engine;
        Store = store;
        Log = logs.CreateLogger(RequestLog.Category);
        Ledger = new LedgerWriter(store, options.PendingLedgerPath, logs.CreateLogger("SharpSeek.Ledger"));
        RateLimiter = new KeyRateLimiter(options.RequestsPerSecondPerKey, options.BurstPerKey);
        KeyLimiter = new KeyConcurrencyLimiter(options.RunningPerKey, options.QueuedPerKey);
        Fingerprint = "fp_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(served.Identity)))[..10];
        foreach (var (group, accounts) in options.CacheShareGroups)
            foreach (string account in accounts)
                if (!_shareGroupOf.TryAdd(account, group))
                    throw new ArgumentException($"account '{account}' is in two cache share groups ('{_shareGroupOf[account]}' and '{group}')");
    }

    public ServerOptions Options { get; }
    public ServedModel Served { get; }
    public InferenceEngine Engine { get; }
    public AccountStore Store { get; }
    public LedgerWriter Ledger { get; }
    public KeyRateLimiter RateLimiter { get; }
    public KeyConcurrencyLimiter KeyLimiter { get; }
    public ServerMetrics Metrics { get; } = new();
    public ILogger Log { get; }
    public string Fingerprint { get; }

    /// <summary>Cancelled when shutdown stops waiting for in-flight requests: what they still run is cancelled.</summary>
    public CancellationToken ShuttingDown => _shutdown.Token;
    /// <summary>Set once shutdown began: new requests get 503.</summary>
    public bool Draining { get; private set; }
    /// <summary>API requests being handled now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    internal void Enter() => Interlocked.Increment(ref _inFlight);
    internal void Exit() => Interlocked.Decrement(ref _inFlight);
    internal void BeginDrain() => Draining = true;
    internal void CancelInFlight() => _shutdown.Cancel();

    public void Dispose() => _shutdown.Dispose();

    /// <summary>The account's context-cache partition: its sharing group when the operator named one, else its own.</summary>
    public string CachePartition(Account account) =>
        _shareGroupOf.TryGetValue(account.Name, out var group) ? "group:" + group : "account:" + account.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The account of the request's key; throws 401 when the key is missing or unknown. The key comes as
    /// <c>Authorization: Bearer &lt;key&gt;</c>, or, where <paramref name="apiKeyHeader"/> (the Anthropic format), as
    /// <c>x-api-key: &lt;key&gt;</c>.
    /// </summary>
    public async Task<Account> AuthenticateAsync(HttpContext http, bool apiKeyHeader = false)
    {
        string? key = null;
        string? header = http.Request.Headers.Authorization;
        if (apiKeyHeader && string.IsNullOrEmpty(header))
        {
            key = http.Request.Headers["x-api-key"];
            if (string.IsNullOrEmpty(key)) throw ApiException.Unauthorized("Authentication Fails: no API key given (x-api-key: <key> or Authorization: Bearer <key>).");
        }
        else
        {
            if (string.IsNullOrEmpty(header)) throw ApiException.Unauthorized("Authentication Fails: no API key given (Authorization: Bearer <key>).");
            const string scheme = "Bearer ";
            if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) throw ApiException.Unauthorized("Authentication Fails: the Authorization header must be 'Bearer <key>'.");
            key = header[scheme.Length..];
        }
        key = key.Trim();
        if (key.Length == 0 || key.Length > 256) throw ApiException.Unauthorized("Authentication Fails: your api key is invalid.");
        return await Store.FindAccountAsync(key, http.RequestAborted) ?? throw ApiException.Unauthorized("Authentication Fails: your api key is invalid.");
    }
}
