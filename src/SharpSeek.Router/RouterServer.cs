using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SharpSeek.Inference;
using Yarp.ReverseProxy.Forwarder;

namespace SharpSeek.Router;

/// <summary>
/// <c>sharpseek router</c>: one address in front of N <c>serve</c> replicas. Every request's body is read once (16 MiB
/// bound), its prompt blocks keyed (<see cref="PromptPrefix"/>), a replica chosen (<see cref="ReplicaChooser"/>), and
/// the request forwarded by YARP's <see cref="IHttpForwarder"/> — streaming passes through unbuffered, keep-alives
/// included. A replica that fails before answering, or answers 503 (full), costs one more try on another; a replica
/// that fails mid-stream cuts that client's stream (its rows are the replica's to bill). <c>/router/status</c> shows
/// the replicas, their health and what was routed where.
/// </summary>
public sealed class RouterServer : IAsyncDisposable
{
    private const int MaxBodyBytes = 16 << 20;
    private readonly WebApplication _app;
    private readonly ReplicaSet _replicas;
    private readonly PrefixIndex _index;
    private readonly ReplicaChooser _chooser;
    private readonly PromptPrefix? _prefix;
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _invoker;
    private readonly ILogger _log;
    private long _retries, _refused;

    private RouterServer(WebApplication app, RouterOptions options, ILoggerFactory logs)
    {
        _app = app;
        _log = logs.CreateLogger(RouterLog.Category);
        _index = new PrefixIndex(options.IndexCapacity);
        _replicas = new ReplicaSet(options, _log, _index.Forget);
        _chooser = new ReplicaChooser(options.Policy, options.LoadSlack);
        _prefix = options.Tokenizer is { } t ? new PromptPrefix(new ChatPromptFormatter(t)) : null;
        _forwarder = app.Services.GetRequiredService<IHttpForwarder>();
        // One connection pool to the replicas: no proxy, no cookies, no decompression (bytes pass through as sent).
        _invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(2),
            EnableMultipleHttp2Connections = true,
        });
    }

    public Uri BaseAddress { get; private set; } = null!;
    public IReadOnlyList<Replica> Replicas => _replicas.Replicas;
    public long Retries => Interlocked.Read(ref _retries);

    public static async Task<RouterServer> StartAsync(RouterOptions options, ILoggerFactory? logs = null)
    {
        if (options.Replicas.Count == 0) throw new ArgumentException("the router needs at least one replica (--replica URL)");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (logs is not null) builder.Services.AddSingleton(logs);
        else
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            // The router's own lines say what was routed where; ASP.NET's and YARP's per-request lines (and YARP's warning for a failed try) only repeat them.
            builder.Logging.AddFilter("Microsoft", LogLevel.Warning).AddFilter("Yarp", LogLevel.Error);
        }
        builder.Services.AddHttpForwarder();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = MaxBodyBytes;
            if (IPAddress.TryParse(options.Host, out var ip)) k.Listen(ip, options.Port);
            else k.ListenAnyIP(options.Port);
        });
        var app = builder.Build();
        var router = new RouterServer(app, options, logs ?? app.Services.GetRequiredService<ILoggerFactory>());
        app.MapGet("/router/status", router.StatusAsync);
        app.Map("/{**path}", router.ForwardAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        router.BaseAddress = new Uri(address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
        return router;
    }

    private async Task ForwardAsync(HttpContext http)
    {
        long started = Stopwatch.GetTimestamp();
        byte[] body = await ReadBodyAsync(http);
        if (http.Response.HasStarted) return;
        string path = http.Request.Path.Value ?? "/";
        ulong[] keys = _prefix is not null && HttpMethods.IsPost(http.Request.Method) ? _prefix.Keys(path, body, ApiKey(http.Request)) : [];
        int[] matched = _index.MatchedBlocks(keys, _replicas.Replicas.Count);
        var tried = new HashSet<int>();
        for (int attempt = 1; ; attempt++)
        {
            var replica = _chooser.Choose(_replicas.Replicas, matched, tried, out int matchedBlocks);
            if (replica is null)
            {
                await RefuseAsync(http);
                return;
            }
            tried.Add(replica.Index);
            http.Request.Body = new MemoryStream(body, writable: false);
            var transformer = new RetryTransformer(retryable: tried.Count < _replicas.Replicas.Count);
            ForwarderError error;
            // YARP aborts the client's connection when the replica's body breaks off; hold that abort back so a cut
            // stream can still end with an error event (EndCutStreamAsync), and apply it after if nothing else is sent.
            var lifetime = http.Features.Get<IHttpRequestLifetimeFeature>()!;
            var deferred = new DeferredAbort(lifetime);
            http.Features.Set<IHttpRequestLifetimeFeature>(deferred);
            replica.Enter();
            try { error = await _forwarder.SendAsync(http, replica.Prefix, _invoker, ForwarderRequestConfig.Empty, transformer); }
            finally
            {
                replica.Exit();
                http.Features.Set(lifetime);
            }

            if (transformer.Refused)
            {
                // The replica is full: another may not be.
                Interlocked.Increment(ref _retries);
                Reset(http);
                continue;
            }
            if (error != ForwarderError.None)
            {
                string what = http.Features.Get<IForwarderErrorFeature>()?.Exception?.Message ?? error.ToString();
                // YARP can name a broken replica body a destination error; the client left only if its own token says so.
                bool clientLeft = http.RequestAborted.IsCancellationRequested
                                  || error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled;
                if (clientLeft)
                {
                    if (deferred.AbortRequested) lifetime.Abort();
                    return; // the client left
                }
                if (!http.Response.HasStarted && error is ForwarderError.Request or ForwarderError.RequestTimedOut or ForwarderError.NoAvailableDestinations)
                {
                    _replicas.MarkDown(replica, what);
                    RouterLog.Retrying(_log, http.Request.Method, path, replica.Prefix, what);
                    Interlocked.Increment(ref _retries);
                    if (attempt < 2)
                    {
                        Reset(http);
                        continue;
                    }
                    await RefuseAsync(http);
                    return;
                }
                _replicas.MarkDown(replica, what);
                if (!http.Response.HasStarted)
                {
                    // Any other failure before an answer began: the client still gets one, in the API's error shape.
                    Reset(http);
                    await WriteErrorAsync(http, 502, $"The replica failed to answer ({error}); retry the request.", "server_error", "replica_failed");
                    return;
                }
                RouterLog.CutMidStream(_log, http.Request.Method, path, replica.Prefix, what);
                if (!await EndCutStreamAsync(http) && deferred.AbortRequested) lifetime.Abort();
                return;
            }
            if (http.Response.StatusCode == 200 && keys.Length > 0) _index.Record(keys, replica.Index);
            long ms = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            RouterLog.Routed(_log, http.Request.Method, path, replica.Prefix, http.Response.StatusCode, keys.Length, matchedBlocks, attempt, ms);
            return;
        }
    }

    /// <summary>
    /// An answer whose replica died after its headers went out: the bytes sent came from that replica, so no other can
    /// continue it. The client gets the API's error as it would from a replica that failed at that point: the last
    /// event of a stream (SSE), or the error object after the blank keep-alive lines a queued plain request receives.
    /// If the connection is already gone there is nobody to tell.
    /// </summary>
    private static async Task<bool> EndCutStreamAsync(HttpContext http)
    {
        if (http.RequestAborted.IsCancellationRequested) return false;
        string? type = http.Response.ContentType;
        bool sse = type?.StartsWith("text/event-stream", StringComparison.Ordinal) == true;
        if (!sse && type?.StartsWith("application/json", StringComparison.Ordinal) != true) return false;
        string error = JsonSerializer.Serialize(new { error = new { message = "The replica serving this answer stopped; the answer is incomplete. Retry the request.", type = "server_error", param = (string?)null, code = "replica_lost" } });
        try
        {
            await http.Response.WriteAsync(sse ? "data: " + error + "\n\n" : error);
            await http.Response.Body.FlushAsync();
            return true;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException) { return false; }
    }

    /// <summary>Undoes what a failed or refused try left on the context (status, headers, YARP's error feature) so the next forwards afresh.</summary>
    private static void Reset(HttpContext http)
    {
        http.Response.StatusCode = 200;
        http.Response.Headers.Clear();
        http.Features.Set<IForwarderErrorFeature>(null);
    }

    private static string? ApiKey(HttpRequest request)
    {
        string? auth = request.Headers.Authorization;
        if (auth is not null && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return auth[7..].Trim();
        string? key = request.Headers["x-api-key"];
        return string.IsNullOrEmpty(key) ? null : key;
    }

    private static async Task<byte[]> ReadBodyAsync(HttpContext http)
    {
        if (http.Request.ContentLength is > MaxBodyBytes)
        {
            await WriteErrorAsync(http, 413, "Request body too large.", "invalid_request_error", "body_too_large");
            return [];
        }
        using var ms = new MemoryStream();
        try { await http.Request.Body.CopyToAsync(ms, http.RequestAborted); }
        catch (BadHttpRequestException) { await WriteErrorAsync(http, 413, "Request body too large.", "invalid_request_error", "body_too_large"); }
        return ms.ToArray();
    }

    private Task RefuseAsync(HttpContext http)
    {
        Interlocked.Increment(ref _refused);
        http.Response.Headers.RetryAfter = "1";
        return WriteErrorAsync(http, 503, "Server busy: every replica is full or down; retry later.", "service_unavailable_error", "server_busy");
    }

    private static async Task WriteErrorAsync(HttpContext http, int status, string message, string type, string code)
    {
        if (http.Response.HasStarted) return;
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(JsonSerializer.Serialize(new { error = new { message, type, param = (string?)null, code } }));
    }

    private async Task StatusAsync(HttpContext http)
    {
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            replicas = _replicas.Replicas.Select(r => new { address = r.Prefix, healthy = r.Healthy, in_flight = r.InFlight, reported_load = r.ReportedLoad, routed = r.Routed }),
            known_blocks = _index.Count,
            retries = Retries,
            refused = Interlocked.Read(ref _refused),
        }));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _replicas.DisposeAsync();
        _invoker.Dispose();
    }

    /// <summary>The request's lifetime feature with <see cref="Abort"/> held back (cancellation still flows through).</summary>
    private sealed class DeferredAbort(IHttpRequestLifetimeFeature inner) : IHttpRequestLifetimeFeature
    {
        public bool AbortRequested { get; private set; }

        public CancellationToken RequestAborted { get => inner.RequestAborted; set => inner.RequestAborted = value; }

        public void Abort() => AbortRequested = true;
    }

    /// <summary>YARP's default request/response copying, except that a 503 from a full replica is held back so another can answer.</summary>
    private sealed class RetryTransformer(bool retryable) : HttpTransformer
    {
        public bool Refused { get; private set; }

        public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
        {
            if (retryable && proxyResponse?.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                Refused = true;
                return ValueTask.FromResult(false);
            }
            return base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        }
    }
}
