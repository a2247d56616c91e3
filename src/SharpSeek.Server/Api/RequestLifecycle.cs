using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using SharpSeek.Inference;
using SharpSeek.Server.Accounts;
using SharpSeek.Server.Admission;
using SharpSeek.Server.Hosting;
using SharpSeek.Server.Monitoring;

namespace SharpSeek.Server.Api;

/// <summary>
/// One inference request's life, whatever its wire format (OpenAI/DeepSeek chat and FIM here; any other format
/// supplies its own parsing, prompt, response and error writers and reuses the rest):
/// <list type="number">
/// <item><see cref="RunAsync"/> wraps the handler: every exception becomes an error body (through the format's own
/// writer; unexpected ones are logged with their stack trace and answered 500), and every request ends with one log
/// line and its metrics.</item>
/// <item><see cref="AdmitAsync"/>: rate limit, the account's gate (running/queued per key), the balance reservation
/// (worst-case cost), keep-alives while the gate waits, then the engine (503 when full).</item>
/// <item><see cref="SettleAsync"/>: awaits the generation and writes its ledger row (cost by the billing rules) before
/// the format sends its last bytes, so a client that saw a complete answer always has its row. Whatever ended
/// otherwise (a disconnect, a failed write, an exception) is settled when <see cref="RunAsync"/> ends.</item>
/// </list>
/// </summary>
public sealed class RequestLifecycle
{
    private readonly ServerState _state;
    private readonly HttpContext _http;
    private readonly long _startedAt = Stopwatch.GetTimestamp();
    private CancellationTokenSource? _cancel;
    private KeyConcurrencyLimiter.Lease? _lease;
    private long _reservedNano;
    private bool _reserved, _submitted, _streaming;
    private Task<GenerationResult>? _settled;
    private ModelPrice? _price;
    private string _model = "";
    private TimeSpan _gateWait;
    private UsageRecord? _row;

    public RequestLifecycle(ServerState state, HttpContext http, string endpoint, string id)
    {
        _state = state;
        _http = http;
        Endpoint = endpoint;
        Id = id;
    }

    public string Endpoint { get; }
    /// <summary>The request's id (ledger row, log line, the response's id).</summary>
    public string Id { get; }
    /// <summary>Set by the format once it has authenticated the request (for the log line).</summary>
    public Account? Account { get; set; }
    /// <summary>The engine's stream once admitted.</summary>
    public GenerationStream? Stream { get; private set; }
    /// <summary>Sends one keep-alive in the format's own form (a blank line, an SSE comment, a ping event).</summary>
    public Func<Task>? KeepAlive { get; set; }
    /// <summary>Writes an error in the format's own body; returns the status sent.</summary>
    public required Func<ApiException, Task<int>> WriteError { get; init; }

    /// <summary>Runs <paramref name="handler"/> (which returns the status it sent) with the error, logging, metrics and settlement around it.</summary>
    public async Task RunAsync(Func<Task<int>> handler)
    {
        int status = 200;
        _state.Enter();
        try
        {
            if (_state.Draining) throw ApiException.ShuttingDown();
            status = await handler();
        }
        catch (ApiException e)
        {
            status = await WriteErrorSafely(e);
        }
        catch (Exception) when (_http.RequestAborted.IsCancellationRequested)
        {
            status = 499;
        }
        catch (OperationCanceledException) when (_state.ShuttingDown.IsCancellationRequested)
        {
            status = await WriteErrorSafely(ApiException.ShuttingDown());
        }
        catch (Exception e)
        {
            RequestLog.Unexpected(_state.Log, e, Id, _http.Request.Method, Endpoint);
            status = await WriteErrorSafely(new ApiException(500, "Internal server error; the request id is " + Id + ".", "server_error", "internal_error"));
        }
        finally
        {
            try { await EndAsync(status); }
            finally
            {
                _lease?.Dispose();
                _cancel?.Dispose();
                _state.Exit();
            }
        }
    }

    private async Task<int> WriteErrorSafely(ApiException e)
    {
        try { return await WriteError(e); }
        catch (Exception) when (_http.RequestAborted.IsCancellationRequested) { return 499; }
        catch (IOException) { return 499; }
    }

    /// <summary>
    /// Admits a formatted request: per-key rate and gate, a reservation of its worst-case cost at
    /// <paramref name="price"/>, then the engine. <paramref name="maxTokensGiven"/>: the client set max_tokens (a
    /// balance that cannot cover it is 402); otherwise the default is lowered to what the balance covers.
    /// </summary>
    public async Task<GenerationStream> AdmitAsync(Account account, GenerationRequest generation, ModelPrice price, string model, bool streaming, bool maxTokensGiven)
    {
        Account = account;
        _price = price;
        _model = model;
        _streaming = streaming;
        if (!_state.RateLimiter.TryAcquire(account.Id)) throw ApiException.RateLimited();
        _lease = _state.KeyLimiter.TryEnter(account.Id) ?? throw ApiException.TooManyConcurrent(_state.KeyLimiter.RunningPerKey, _state.KeyLimiter.QueuedPerKey);

        int prompt = generation.PromptTokens.Length;
        int maxTokens = generation.MaxTokens;
        // Not cancellable: a reservation committed while the client left must still be known here, to be released.
        long? reserved = await _state.Store.ReserveAsync(account.Id, Id, _state.Options.Instance, available =>
        {
            long full = price.MaxCostNano(prompt, maxTokens);
            if (full <= available) return full;
            if (maxTokensGiven) return null;
            int affordable = price.AffordableOutputTokens(prompt, available);
            if (affordable < 1) return null;
            maxTokens = affordable;
            return price.MaxCostNano(prompt, affordable);
        });
        if (reserved is not long amount) throw ApiException.InsufficientBalance();
        _reserved = true;
        _reservedNano = amount;

        _cancel = CancellationTokenSource.CreateLinkedTokenSource(_http.RequestAborted, _state.ShuttingDown);
        long gateStart = Stopwatch.GetTimestamp();
        await WaitWithKeepAliveAsync(_lease.Ready, _cancel.Token);
        _gateWait = Stopwatch.GetElapsedTime(gateStart);

        var admitted = generation with { MaxTokens = maxTokens, CachePartition = _state.CachePartition(account) };
        GenerationStream? stream;
        try
        {
            if (!_state.Engine.TrySubmit(admitted, _cancel.Token, out stream)) throw ApiException.Busy();
        }
        catch (ArgumentException e) { throw ApiException.BadRequest(e.Message); } // what the engine refuses (sampling, prompt) is the request's fault
        _submitted = true;
        Stream = stream;
        return stream;
    }

    /// <summary>Waits for <paramref name="task"/>; every keep-alive interval in between sends <see cref="KeepAlive"/>.</summary>
    public async Task WaitWithKeepAliveAsync(Task task, CancellationToken ct)
    {
        while (!task.IsCompleted)
        {
            var delay = Task.Delay(_state.Options.KeepAliveInterval, ct);
            if (await Task.WhenAny(task, delay) == task) break;
            ct.ThrowIfCancellationRequested();
            if (KeepAlive is not null)
            {
                await KeepAlive();
                _state.Metrics.CountKeepAlive();
            }
        }
        await task;
    }

    /// <summary>Awaits the generation's end and writes its ledger row (once); the format sends its last bytes after this.</summary>
    public Task<GenerationResult> SettleAsync() => _settled ??= SettleCoreAsync();

    private async Task<GenerationResult> SettleCoreAsync()
    {
        var stream = Stream ?? throw new InvalidOperationException("settle needs an admitted request");
        var result = await stream.Completion.ConfigureAwait(false);
        var u = result.Usage;
        // Billing rules (docs/operations.md): nothing is charged for a request that delivered no token — cancelled
        // or expired in the queue, failed before its first token, or a non-streamed answer that never reached the
        // client; a streamed one that failed or was cancelled mid-way pays for its prompt and the tokens it sent.
        bool complete = result.FinishReason is FinishReason.Stop or FinishReason.Length;
        int delivered = complete || _streaming ? u.CompletionTokens : 0;
        bool charged = complete || delivered > 0;
        long cost = charged ? _price!.CostNano(u.CachedPromptTokens, u.PromptCacheMissTokens, delivered) : 0;
        if (cost > _reservedNano)
        {
            RequestLog.CostOverReservation(_state.Log, Id, cost, _reservedNano);
            cost = _reservedNano;
        }
        _row = new UsageRecord
        {
            RequestId = Id,
            AccountId = Account!.Id,
            Model = _model,
            Endpoint = Endpoint,
            Outcome = result.FinishReason switch
            {
                FinishReason.Stop => "stop", FinishReason.Length => "length", FinishReason.Cancelled => "cancelled",
                FinishReason.Expired => "expired", _ => "error",
            },
            PromptTokens = u.PromptTokens,
            CacheHitTokens = u.CachedPromptTokens,
            CacheMissTokens = charged ? u.PromptCacheMissTokens : 0,
            CompletionTokens = u.CompletionTokens,
            ReasoningTokens = u.ReasoningTokens,
            CostNano = cost,
        };
        await _state.Ledger.SettleAsync(_row).ConfigureAwait(false);
        return result;
    }

    private async Task ReleaseAsync()
    {
        try { await _state.Store.ReleaseAsync(Id); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The reservation stays until this instance restarts; it only ever blocks spending, never charges.
            RequestLog.ReleaseFailed(_state.Log, e, Id, _reservedNano);
        }
    }

    private async Task EndAsync(int status)
    {
        GenerationResult? result = null;
        if (_submitted)
        {
            Stream!.Cancel(); // no-op when already finished; stops generation when the response failed mid-way
            result = await SettleAsync();
        }
        else if (_reserved) await ReleaseAsync(); // never reached the engine: no row, nothing charged

        var total = Stopwatch.GetElapsedTime(_startedAt);
        var queue = _gateWait + (result?.QueueTime ?? TimeSpan.Zero);
        if (result is not null)
        {
            if (result.Usage.CompletionTokens > 0) _state.Metrics.ObserveTimeToFirstToken(result.TimeToFirstToken);
            _state.Metrics.ObserveQueueTime(queue);
            _state.Metrics.ObserveDuration(total);
        }
        _state.Metrics.CountRequest(Endpoint, status);
        var u = result?.Usage;
        RequestLog.Request(_state.Log, Id, _http.Request.Method, Endpoint, Account?.Id, status, _row?.Outcome ?? "rejected",
            u?.PromptTokens ?? 0, u?.CachedPromptTokens ?? 0, u?.CompletionTokens ?? 0,
            u is null ? "none" : u.CachedPromptTokens > 0 ? "hit" : "miss", _row?.CostNano ?? 0,
            (long)queue.TotalMilliseconds, result is { Usage.CompletionTokens: > 0 } ? (long)result.TimeToFirstToken.TotalMilliseconds : -1, (long)total.TotalMilliseconds);
    }
}
