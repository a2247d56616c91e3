using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using SharpSeek.Inference;

namespace SharpSeek.Server.Monitoring;

/// <summary>Counters and histograms of the server, written in the Prometheus text exposition format at /metrics.</summary>
public sealed class ServerMetrics
{
    private static readonly double[] s_secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
    private readonly ConcurrentDictionary<(string Endpoint, int Status), long> _requests = new();
    private readonly Histogram _ttft = new(s_secondsBuckets);
    private readonly Histogram _duration = new(s_secondsBuckets);
    private readonly Histogram _queue = new(s_secondsBuckets);
    private long _keepAlives;

    public void CountRequest(string endpoint, int status) => _requests.AddOrUpdate((endpoint, status), 1, (_, n) => n + 1);
    public void ObserveTimeToFirstToken(TimeSpan t) => _ttft.Observe(t.TotalSeconds);
    public void ObserveDuration(TimeSpan t) => _duration.Observe(t.TotalSeconds);
    public void ObserveQueueTime(TimeSpan t) => _queue.Observe(t.TotalSeconds);
    public void CountKeepAlive() => Interlocked.Increment(ref _keepAlives);

    /// <param name="state">The server's admission and ledger state (their gauges are left out without it).</param>
    public string Render(InferenceEngine engine, Hosting.ServerState? state = null)
    {
        var sb = new StringBuilder();
        sb.Append("# HELP sharpseek_requests_total HTTP requests by endpoint and status code.\n# TYPE sharpseek_requests_total counter\n");
        foreach (var ((endpoint, status), n) in _requests.OrderBy(k => k.Key.Endpoint).ThenBy(k => k.Key.Status))
            sb.Append(CultureInfo.InvariantCulture, $"sharpseek_requests_total{{endpoint=\"{endpoint}\",code=\"{status}\"}} {n}\n");
        Gauge(sb, "sharpseek_running_sequences", "Sequences generating now.", engine.RunningSequences);
        Gauge(sb, "sharpseek_queued_requests", "Requests waiting for a sequence slot.", engine.QueuedRequests);
        Counter(sb, "sharpseek_prompt_tokens_total", "Prompt tokens of started requests.", engine.PromptTokens);
        Counter(sb, "sharpseek_prompt_cache_hit_tokens_total", "Prompt tokens served from the context cache.", engine.CachedPromptTokens);
        Counter(sb, "sharpseek_generated_tokens_total", "Tokens generated.", engine.GeneratedTokens);
        Counter(sb, "sharpseek_engine_refused_total", "Submissions refused because every slot and queue place was taken.", engine.RefusedRequests);
        Counter(sb, "sharpseek_mtp_drafted_tokens_total", "Tokens drafted by the MTP head.", engine.DraftedTokens);
        Counter(sb, "sharpseek_mtp_accepted_tokens_total", "MTP drafts the main model confirmed.", engine.AcceptedDraftTokens);
        Counter(sb, "sharpseek_engine_steps_total", "Forward passes the engine ran (each over every running sequence).", engine.Steps);
        Counter(sb, "sharpseek_engine_batch_rows_total", "Token rows those passes held (rows / steps = the mean batch).", engine.BatchRows);
        Counter(sb, "sharpseek_engine_preemptions_total", "Sequences preempted when KV pages ran out (recomputed later).", engine.Preemptions);
        Gauge(sb, "sharpseek_kv_pages_used", "KV-cache pages (64 positions each) in use by sequences and the context cache.", engine.KvPagesUsed);
        Gauge(sb, "sharpseek_kv_pages", "KV-cache pages in the pool.", engine.KvPages);
        Counter(sb, "sharpseek_keepalives_total", "Keep-alive lines sent to waiting requests.", Interlocked.Read(ref _keepAlives));
        if (state is not null)
        {
            Gauge(sb, "sharpseek_in_flight_requests", "API requests being handled now.", state.InFlight);
            Gauge(sb, "sharpseek_key_gate_waiting", "Requests waiting at their key's gate (per-key running limit).", state.KeyLimiter.Waiting);
            Counter(sb, "sharpseek_ledger_pending_rows_total", "Ledger rows the store refused after every retry (kept in ledger-pending.jsonl, logged as errors).", state.Ledger.PendingRows);
        }
        if (engine.Cache is { } cache)
        {
            Counter(sb, "sharpseek_context_cache_dropped_disk_writes_total", "Blocks not written to disk because the write queue was full.", cache.DroppedDiskWrites);
            Counter(sb, "sharpseek_context_cache_corrupt_blocks_total", "Block files found damaged (checksum or length) and deleted.", cache.CorruptBlocks);
            Counter(sb, "sharpseek_context_cache_stored_blocks_total", "64-token blocks stored in the context cache.", cache.StoredBlocks);
            Counter(sb, "sharpseek_context_cache_disk_reads_total", "Blocks read back from disk.", cache.DiskReads);
            Gauge(sb, "sharpseek_context_cache_memory_bytes", "Bytes of KV pages the context cache keeps alive in RAM.", cache.MemoryBytesUsed);
        }
        _ttft.Render(sb, "sharpseek_time_to_first_token_seconds", "From the start of inference to the first token.");
        _duration.Render(sb, "sharpseek_request_duration_seconds", "Whole admitted requests, queueing included.");
        _queue.Render(sb, "sharpseek_queue_wait_seconds", "Time admitted requests waited for a slot.");
        return sb.ToString();
    }

    private static void Gauge(StringBuilder sb, string name, string help, double value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");

    private static void Counter(StringBuilder sb, string name, string help, long value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");

    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length + 1];
        private double _sum;
        private long _count;
        private readonly object _gate = new();

        public void Observe(double v)
        {
            lock (_gate)
            {
                int i = 0;
                while (i < bounds.Length && v > bounds[i]) i++;
                _counts[i]++;
                _sum += v;
                _count++;
            }
        }

        public void Render(StringBuilder sb, string name, string help)
        {
            lock (_gate)
            {
                sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} histogram\n");
                long cumulative = 0;
                for (int i = 0; i < bounds.Length; i++)
                {
                    cumulative += _counts[i];
                    sb.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"{bounds[i]}\"}} {cumulative}\n");
                }
                sb.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"+Inf\"}} {_count}\n{name}_sum {_sum}\n{name}_count {_count}\n");
            }
        }
    }
}
