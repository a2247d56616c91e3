using Microsoft.AspNetCore.Http;
using SharpSeek.Inference;
using SharpSeek.Server.Accounts;
using SharpSeek.Server.Admission;
using SharpSeek.Server.Api;
using SharpSeek.Server.Monitoring;

namespace SharpSeek.Server.Hosting;

/// <summary>What every request handler shares: the engine, the account store, admission, metrics and options.</summary>
public sealed class ServerState
{
    internal ServerState(ServerOptions options, ServedModel served, InferenceEngine engine, AccountStore store)
    {
        Options = options;
        Served = served;
        Engine = engine;
        Store = store;
        RateLimiter = new KeyRateLimiter(options.RequestsPerSecondPerKey, options.BurstPerKey);
        Fingerprint = "fp_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(served.Identity)))[..10];
    }

    public ServerOptions Options { get; }
    public ServedModel Served { get; }
    public InferenceEngine Engine { get; }
    public AccountStore Store { get; }
    public KeyRateLimiter RateLimiter { get; }
    public ServerMetrics Metrics { get; } = new();
    public string Fingerprint { get; }

    /// <summary>The account of the request's bearer key; throws 401 when the key is missing or unknown.</summary>
    public async Task<Account> AuthenticateAsync(HttpContext http)
    {
        string? header = http.Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header)) throw ApiException.Unauthorized("Authentication Fails: no API key given (Authorization: Bearer <key>).");
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) throw ApiException.Unauthorized("Authentication Fails: the Authorization header must be 'Bearer <key>'.");
        string key = header[scheme.Length..].Trim();
        if (key.Length == 0 || key.Length > 256) throw ApiException.Unauthorized("Authentication Fails: your api key is invalid.");
        return await Store.FindAccountAsync(key, http.RequestAborted) ?? throw ApiException.Unauthorized("Authentication Fails: your api key is invalid.");
    }
}
