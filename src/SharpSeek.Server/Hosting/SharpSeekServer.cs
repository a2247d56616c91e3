using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SharpSeek.Inference;
using SharpSeek.Server.Accounts;
using SharpSeek.Server.Api;
using SharpSeek.Server.Monitoring;

namespace SharpSeek.Server.Hosting;

/// <summary>
/// The DeepSeek-compatible HTTP server: API + web chat UI in one Kestrel process (loopback unless keys are given). Start
/// with <see cref="StartAsync"/>; dispose to stop (draining requests; the engine, the cache's writer and the store close too).
/// </summary>
public sealed class SharpSeekServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ContextCache _cache;
    private bool _disposed;

    private SharpSeekServer(WebApplication app, ServerState state, ContextCache cache, Uri baseAddress)
    {
        _app = app;
        State = state;
        _cache = cache;
        BaseAddress = baseAddress;
    }

    public ServerState State { get; }
    /// <summary>http://127.0.0.1:port/ — the API lives at the root and under /v1.</summary>
    public Uri BaseAddress { get; }
    public InferenceEngine Engine => State.Engine;
    public AccountStore Store => State.Store;
    public ContextCache ContextCache => _cache;

    /// <summary>
    /// Binds the listener, opens the store (creating <see cref="ServerOptions.ApiKeys"/>, writing ledger rows a
    /// previous run left pending and dropping its open reservations), starts the engine. <paramref name="logging"/>
    /// receives every log line (tests capture them; <see cref="ServerOptions.ConsoleLog"/> adds the console).
    /// </summary>
    public static async Task<SharpSeekServer> StartAsync(ServerOptions options, ServedModel served, ILoggerProvider? logging = null)
    {
        var address = ListenAddress(options);
        Directory.CreateDirectory(options.DataDirectory);
        var store = options.PostgresConnectionString is { } pg ? AccountStore.OpenPostgres(pg) : AccountStore.OpenSqlite(options.AccountsDatabasePath);
        ContextCache? cache = null;
        InferenceEngine? engine = null;
        try
        {
            long grant = (long)(options.InitialGrant * 1_000_000_000m);
            foreach (string key in options.ApiKeys) store.EnsureKey(key, AccountNameOf(key), grant);

            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            if (logging is not null) builder.Logging.AddProvider(logging);
            if (options.ConsoleLog)
                builder.Logging.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                    o.UseUtcTimestamp = true;
                });
            // Kestrel's own per-connection chatter stays out; requests are logged once, by the lifecycle.
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
            builder.WebHost.ConfigureKestrel(k =>
            {
                k.Listen(address, options.Port);
                k.Limits.MaxRequestBodySize = 16 << 20;
                k.AddServerHeader = false;
            });
            builder.WebHost.UseShutdownTimeout(options.ShutdownTimeout);
            var app = builder.Build();
            var logs = app.Services.GetRequiredService<ILoggerFactory>();

            var cacheOptions = (options.ContextCache ?? new ContextCacheOptions()) with { Directory = (options.ContextCache?.Directory) ?? Path.Combine(options.DataDirectory, "context-cache") };
            cache = new ContextCache(cacheOptions);
            engine = new InferenceEngine(served.Model, served.Tokenizer, served.Identity, options.Engine, cache);
            var state = new ServerState(options, served, engine, store, logs);
            await state.Ledger.ReplayPendingAsync();
            int dropped = store.DropReservations(options.Instance);
            if (dropped > 0) RequestLog.DroppedReservations(state.Log, dropped, options.Instance);

            app.Use(async (http, next) =>
            {
                // The last net: an exception nothing else answered gets DeepSeek's error body and a log line, never a bare 500.
                try { await next(http); }
                catch (Exception e) when (!http.RequestAborted.IsCancellationRequested)
                {
                    RequestLog.Unexpected(state.Log, e, http.TraceIdentifier, http.Request.Method, http.Request.Path);
                    if (!http.Response.HasStarted)
                        await new ApiException(500, "Internal server error; the request id is " + http.TraceIdentifier + ".", "server_error", "internal_error").WriteAsync(http.Response);
                }
            });
            MapEndpoints(app, state);
            await app.StartAsync();
            var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var uri = new Uri(bound.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
            return new SharpSeekServer(app, state, cache, uri);
        }
        catch
        {
            engine?.Dispose();
            cache?.Dispose();
            store.Dispose();
            throw;
        }
    }

    /// <summary>The account name a key given with --api-key gets: "key-" and the first 8 hex digits of the key's SHA-256 (what cache share groups name).</summary>
    public static string AccountNameOf(string apiKey) => "key-" + AccountStore.HashKey(apiKey)[..8];

    /// <summary>
    /// The address to bind. Beyond loopback only with API keys given: the web UI, /health and /metrics need no key,
    /// and a server on the network must not run on a key only its console has seen.
    /// </summary>
    private static IPAddress ListenAddress(ServerOptions options)
    {
        if (!IPAddress.TryParse(options.Host, out var address))
            throw new ArgumentException($"--host must be an IP address (such as 127.0.0.1, 0.0.0.0 or ::), not '{options.Host}'");
        if (!IPAddress.IsLoopback(address) && options.ApiKeys.Count == 0)
            throw new ArgumentException($"listening on {options.Host} (beyond loopback) needs API keys: give at least one --api-key");
        return address;
    }

    private static void MapEndpoints(WebApplication app, ServerState state)
    {
        foreach (string prefix in new[] { "", "/v1" })
        {
            app.MapPost(prefix + "/chat/completions", (HttpContext http) => CompletionExchange.HandleChatAsync(http, state));
            app.MapGet(prefix + "/models", (HttpContext http) => Guarded(http, state, "/models", () => ModelsAsync(http, state)));
            app.MapGet(prefix + "/user/balance", (HttpContext http) => Guarded(http, state, "/user/balance", () => BalanceAsync(http, state)));
        }
        app.MapPost("/beta/completions", (HttpContext http) => CompletionExchange.HandleFimAsync(http, state));
        app.MapPost("/beta/chat/completions", (HttpContext http) => CompletionExchange.HandleChatAsync(http, state));
        app.MapPost(Api.Anthropic.AnthropicExchange.Endpoint, (HttpContext http) => Api.Anthropic.AnthropicExchange.HandleAsync(http, state));
        app.MapGet("/health", async (HttpContext http) =>
        {
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["status"] = "ok",
                ["model"] = state.Served.Identity,
                ["running"] = state.Engine.RunningSequences,
                ["queued"] = state.Engine.QueuedRequests,
                ["store"] = state.Store.Backend,
            }));
        });
        app.MapGet("/metrics", async (HttpContext http) =>
        {
            http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await http.Response.WriteAsync(state.Metrics.Render(state.Engine, state));
        });
        app.MapGet("/", (HttpContext http) => StaticFile(http, "index.html"));
        app.MapGet("/ui/model.json", async (HttpContext http) =>
        {
            http.Response.ContentType = "application/json";
            bool thinks = state.Engine.Prompts.ThinksByDefault;
            await http.Response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["name"] = state.Served.Name,
                ["supports_thinking"] = state.Engine.Prompts.SupportsReasoning,
                ["thinks_by_default"] = thinks,
                ["template"] = state.Engine.Prompts.TemplateDescription,
            }));
        });
        app.MapGet("/ui/pricing.json", async (HttpContext http) =>
        {
            var o = state.Options;
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["currency"] = "CNY",
                [ChatCompletionRequest.ChatModel] = new { hit = o.ChatPrice.CacheHitPerMillion, miss = o.ChatPrice.CacheMissPerMillion, output = o.ChatPrice.OutputPerMillion },
                [ChatCompletionRequest.ReasonerModel] = new { hit = o.ReasonerPrice.CacheHitPerMillion, miss = o.ReasonerPrice.CacheMissPerMillion, output = o.ReasonerPrice.OutputPerMillion },
            }));
        });
        app.MapGet("/ui/{file}", (HttpContext http, string file) => StaticFile(http, file));
        app.MapFallback(async (HttpContext http) =>
        {
            var e = new ApiException(404, $"No route for {http.Request.Method} {http.Request.Path}.", "invalid_request_error", "not_found");
            await e.WriteAsync(http.Response);
        });
    }

    private static async Task Guarded(HttpContext http, ServerState state, string endpoint, Func<Task> handler)
    {
        int status = 200;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await handler();
        }
        catch (ApiException e)
        {
            status = e.Status;
            if (!http.Response.HasStarted) await e.WriteAsync(http.Response);
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            status = 499;
        }
        catch (Exception e)
        {
            status = 500;
            RequestLog.Unexpected(state.Log, e, http.TraceIdentifier, http.Request.Method, endpoint);
            if (!http.Response.HasStarted) await new ApiException(500, "Internal server error.", "server_error", "internal_error").WriteAsync(http.Response);
        }
        finally
        {
            state.Metrics.CountRequest(endpoint, status);
            long totalMs = (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            RequestLog.Request(state.Log, http.TraceIdentifier, http.Request.Method, endpoint, null, status, status == 200 ? "ok" : "rejected",
                0, 0, 0, "none", 0, 0, -1, totalMs);
        }
    }

    private static async Task ModelsAsync(HttpContext http, ServerState state)
    {
        await state.AuthenticateAsync(http);
        http.Response.ContentType = "application/json";
        var models = new List<object> { new { id = ChatCompletionRequest.ChatModel, @object = "model", owned_by = "sharpseek" } };
        if (state.Engine.Prompts.SupportsReasoning) models.Add(new { id = ChatCompletionRequest.ReasonerModel, @object = "model", owned_by = "sharpseek" });
        // The weights' own name too (folder or file name), so a client can see what actually answers; it is served as chat.
        string name = state.Served.Name;
        if (name is not (ChatCompletionRequest.ChatModel or ChatCompletionRequest.ReasonerModel)) models.Add(new { id = name, @object = "model", owned_by = "sharpseek" });
        await http.Response.WriteAsync(JsonSerializer.Serialize(new { @object = "list", data = models }));
    }

    private static async Task BalanceAsync(HttpContext http, ServerState state)
    {
        var account = await state.AuthenticateAsync(http);
        static string Yuan(long nano) => (nano / 1_000_000_000m).ToString("0.00", CultureInfo.InvariantCulture);
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            is_available = account.TotalNano > 0,
            balance_infos = new[]
            {
                new { currency = "CNY", total_balance = Yuan(account.TotalNano), granted_balance = Yuan(account.GrantedNano), topped_up_balance = Yuan(account.ToppedUpNano) },
            },
        }));
    }

    private static async Task StaticFile(HttpContext http, string file)
    {
        if (file.Contains('/') || file.Contains('\\') || file.Contains("..", StringComparison.Ordinal))
        {
            http.Response.StatusCode = 404;
            return;
        }
        using var resource = Assembly.GetExecutingAssembly().GetManifestResourceStream("wwwroot/" + file);
        if (resource is null)
        {
            http.Response.StatusCode = 404;
            return;
        }
        http.Response.ContentType = Path.GetExtension(file) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            _ => "application/octet-stream",
        };
        http.Response.Headers.CacheControl = "no-cache";
        await resource.CopyToAsync(http.Response.Body);
    }

    /// <summary>
    /// Stops cleanly: new requests get 503 while in-flight ones run on for up to
    /// <see cref="ServerOptions.ShutdownTimeout"/>; what is still running then is cancelled (each still gets its ledger
    /// row and log line), the listener closes, the engine stops, the context cache's queued disk writes get a bounded
    /// wait, and the store closes.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        var log = State.Log;
        State.BeginDrain();
        var timeout = State.Options.ShutdownTimeout;
        if (State.InFlight > 0) RequestLog.Draining(log, State.InFlight, timeout.TotalSeconds);
        if (!await WaitAsync(() => State.InFlight == 0, timeout))
        {
            RequestLog.CancellingInFlight(log, State.InFlight);
            State.CancelInFlight();
            await WaitAsync(() => State.InFlight == 0, TimeSpan.FromSeconds(10));
        }
        using (var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5))) await _app.StopAsync(stopping.Token);
        await _app.DisposeAsync();
        State.Engine.Dispose();
        var flushLimit = TimeSpan.FromSeconds(10);
        using (var flushing = new CancellationTokenSource(flushLimit))
        {
            try { await _cache.FlushAsync(flushing.Token); }
            catch (OperationCanceledException) { RequestLog.CacheFlushTimedOut(log, flushLimit.TotalSeconds); }
        }
        _cache.Dispose();
        State.Store.Dispose();
        State.Dispose();
    }

    private static async Task<bool> WaitAsync(Func<bool> condition, TimeSpan limit)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed >= limit) return false;
            await Task.Delay(20);
        }
        return true;
    }
}
