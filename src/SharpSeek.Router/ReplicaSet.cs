using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace SharpSeek.Router;

/// <summary>One replica: its address, whether it answers, and what it is doing.</summary>
public sealed class Replica(int index, Uri address)
{
    private int _inFlight;
    private long _routed;

    public int Index { get; } = index;
    public Uri Address { get; } = address;
    public string Prefix { get; } = address.ToString().TrimEnd('/');
    private volatile bool _healthy = true;

    public bool Healthy { get => _healthy; set => _healthy = value; }
    /// <summary>Requests the router has in flight there now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);
    public long Routed => Interlocked.Read(ref _routed);
    /// <summary>Running + queued sequences from its last /health answer.</summary>
    public int ReportedLoad { get; set; }

    /// <summary>
    /// The load the rule weighs: the router's own count of requests in flight there (current to the request), or what
    /// the replica last reported when that is higher (it also serves clients that do not come through this router).
    /// </summary>
    public int Load => Math.Max(InFlight, ReportedLoad);

    internal void Enter() { Interlocked.Increment(ref _inFlight); Interlocked.Increment(ref _routed); }
    internal void Exit() => Interlocked.Decrement(ref _inFlight);
}

/// <summary>
/// The replicas and their health: an active check (GET /health) every interval, and a passive one (a failed forward
/// takes the replica out until its next good check). A replica that comes back starts with no known prefixes.
/// </summary>
public sealed class ReplicaSet : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly ILogger _log;
    private readonly Action<int> _forget;

    public ReplicaSet(RouterOptions options, ILogger log, Action<int> forget)
    {
        Replicas = options.Replicas.Select((u, i) => new Replica(i, u)).ToArray();
        _log = log;
        _forget = forget;
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = options.HealthTimeout }) { Timeout = options.HealthTimeout };
        _loop = Task.Run(() => CheckLoopAsync(options.HealthInterval, _stop.Token));
    }

    public IReadOnlyList<Replica> Replicas { get; }

    public void MarkDown(Replica r, string why)
    {
        if (!r.Healthy) return;
        r.Healthy = false;
        _forget(r.Index);
        RouterLog.ReplicaDown(_log, r.Prefix, why);
    }

    private async Task CheckLoopAsync(TimeSpan interval, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await Task.WhenAll(Replicas.Select(r => CheckAsync(r, ct)));
            try { await Task.Delay(interval, ct); }
            catch (OperationCanceledException) { return; }
        }
    }

    private async Task CheckAsync(Replica r, CancellationToken ct)
    {
        try
        {
            using var response = await _http.GetAsync(r.Prefix + "/health", ct);
            response.EnsureSuccessStatusCode();
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            var root = doc.RootElement;
            r.ReportedLoad = (root.TryGetProperty("running", out var run) ? run.GetInt32() : 0) + (root.TryGetProperty("queued", out var q) ? q.GetInt32() : 0);
            if (!r.Healthy)
            {
                r.Healthy = true;
                RouterLog.ReplicaBack(_log, r.Prefix);
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException && !ct.IsCancellationRequested)
        {
            MarkDown(r, "health check failed: " + e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _loop; } catch (OperationCanceledException) { }
        _stop.Dispose();
        _http.Dispose();
    }
}
