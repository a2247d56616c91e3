using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using SharpSeek.Model;
using SharpSeek.Tokenizer;

namespace SharpSeek.Inference;

/// <summary>
/// Runs generations over one <see cref="LanguageModel"/> with continuous batching, the way vLLM and SGLang do on a
/// GPU: a scheduler thread builds one forward pass per step over a ragged batch — the decode token (and MTP draft) of
/// every running sequence plus prefill chunks of newer ones, up to <see cref="EngineOptions.MaxBatchTokens"/> rows —
/// so each weight is read once per step for everyone. Between steps finished or cancelled sequences leave and queued
/// requests join. KV caches live in one <see cref="KvPagePool"/> of 64-token pages; a <see cref="ContextCache"/>
/// shares cached prompt pages between sequences (and restores them from disk) instead of prefilling them.
/// Thread-safe: <see cref="TrySubmit"/> may be called from any thread.
/// </summary>
/// <remarks>
/// The parts: <see cref="StepPlanner"/> decides each step's rows (budget, fairness, preemption), <see cref="Speculation"/>
/// drafts and tracks acceptance, <see cref="TokenChooser"/> draws each sequence's token, <see cref="OutputWriter"/>
/// turns tokens into text deltas and results. Every kernel computes a row the same way whatever the batch, so a
/// request's tokens do not depend on what else the engine is running.
/// </remarks>
public sealed class InferenceEngine : IDisposable
{
    private readonly EngineOptions _options;
    private readonly object _gate = new();
    private readonly Queue<GenerationStream> _waiting = new();
    private readonly Queue<SequenceRun> _requeued = new();
    private readonly List<SequenceRun> _running = [];
    private readonly List<SequenceRun> _reaped = [];
    private readonly List<SequenceRun> _firstDraws = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _scheduler;
    private readonly KvPagePool _pool;
    private readonly ForwardBatch _batch;
    private readonly StepPlanner _planner;
    private readonly Speculation? _speculation;
    private readonly TokenChooser _chooser;
    private readonly OutputWriter _output;
    private readonly Action<SequenceRun> _preempt;
    private readonly Action<SequenceRun, string> _fail;
    private readonly int _vocab;
    private long _nextId, _nextOrder;
    private int _runningCount;
    private volatile bool _stopping;

    // Counters (read by metrics).
    private long _promptTokens, _cachedTokens, _drafted, _accepted, _rejectedFull, _steps, _batchRows, _preemptions;

    /// <param name="tokenizer">
    /// Turns tokens into text and names the special tokens. Null serves token ids only: requests must use
    /// <see cref="GenerationRequest.RawSampling"/> and read <see cref="GenerationResult.Tokens"/> (models without a tokenizer).
    /// </param>
    public InferenceEngine(LanguageModel model, ByteLevelBpeTokenizer? tokenizer, string modelIdentity, EngineOptions? options = null, ContextCache? cache = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Tokenizer = tokenizer;
        ModelIdentity = modelIdentity;
        _options = options ?? new EngineOptions();
        _options.Validate();
        Cache = cache;
        _vocab = model.Config.VocabSize;
        _prompts = tokenizer is null ? null : new ChatPromptFormatter(tokenizer);
        SupportsSpeculation = _options.SpeculativeDecoding && model.MtpDepth > 0;

        long pageBytes = KvPagePool.PageBytesFor(model, _options.KvCacheType, SupportsSpeculation);
        long perSequence = ((long)_options.MaxContext / KvPagePool.PageTokens + 2) * pageBytes;
        long memory = _options.KvMemoryBytes
            ?? perSequence * _options.MaxConcurrentSequences + (cache is null ? 0 : Math.Min(cache.MemoryBudget, 1L << 40));
        _pool = new KvPagePool(model, memory, _options.KvCacheType, SupportsSpeculation);
        cache?.Attach(_pool);
        _batch = new ForwardBatch(model, _options.MaxBatchTokens);
        _planner = new StepPlanner(_options);
        _speculation = SupportsSpeculation ? new Speculation(model, _options) : null;
        _chooser = new TokenChooser(tokenizer, _vocab);
        _output = new OutputWriter(tokenizer, _chooser, _options.MaxContext);
        _preempt = Preempt;
        _fail = (run, message) => Finish(run, FinishReason.Error, message);
        _scheduler = new Thread(RunScheduler) { IsBackground = true, Name = "sharpseek-scheduler" };
        _scheduler.Start();
    }

    public LanguageModel Model { get; }
    public ByteLevelBpeTokenizer? Tokenizer { get; }
    /// <summary>Chat prompt formatting for this model's tokenizer.</summary>
    public ChatPromptFormatter Prompts => _prompts ?? throw new InvalidOperationException("this engine serves token ids only (no tokenizer)");
    private readonly ChatPromptFormatter? _prompts;
    /// <summary>Names the weights (part of every context-cache key).</summary>
    public string ModelIdentity { get; }
    public ContextCache? Cache { get; }
    public EngineOptions Options => _options;
    public bool SupportsSpeculation { get; }
    public int EndOfSequenceToken => _chooser.EndOfSequence;

    public int RunningSequences => Volatile.Read(ref _runningCount);
    public int QueuedRequests { get { lock (_gate) return _waiting.Count + _requeued.Count; } }
    public long PromptTokens => Interlocked.Read(ref _promptTokens);
    public long CachedPromptTokens => Interlocked.Read(ref _cachedTokens);
    public long GeneratedTokens => _output.GeneratedTokens;
    public long CompletedRequests => _output.CompletedRequests;
    public long RefusedRequests => Interlocked.Read(ref _rejectedFull);
    public long DraftedTokens => Interlocked.Read(ref _drafted);
    public long AcceptedDraftTokens => Interlocked.Read(ref _accepted);
    /// <summary>Share of MTP drafts the main model confirmed (0 before any draft).</summary>
    public double DraftAcceptanceRate { get { long d = DraftedTokens; return d == 0 ? 0 : (double)AcceptedDraftTokens / d; } }
    /// <summary>Forward passes run, and the rows they held (rows / steps = the mean batch).</summary>
    public long Steps => Interlocked.Read(ref _steps);
    public long BatchRows => Interlocked.Read(ref _batchRows);
    /// <summary>Sequences preempted for memory (and recomputed later).</summary>
    public long Preemptions => Interlocked.Read(ref _preemptions);
    /// <summary>KV-cache pages in use and in all (64 positions each), and the bytes one position takes.</summary>
    public int KvPagesUsed => Volatile.Read(ref _pagesUsed);
    public int KvPages => _pool.PageCount;
    public long KvBytesPerToken => _pool.BytesPerToken;
    /// <summary>Bytes reserved for KV pages (main and MTP layers).</summary>
    public long KvMemoryBytes => _pool.PageCount * _pool.PageBytes;
    private int _pagesUsed;

    /// <summary>
    /// Queues <paramref name="request"/>. Returns false (and no stream) when every slot is busy and the queue is full.
    /// Cancelling <paramref name="cancellationToken"/> stops the generation before the next scheduler step.
    /// </summary>
    public bool TrySubmit(GenerationRequest request, CancellationToken cancellationToken, [NotNullWhen(true)] out GenerationStream? stream)
    {
        ArgumentNullException.ThrowIfNull(request);
        int length = request.PromptTokens.Length;
        if (length == 0) throw new ArgumentException("the prompt is empty", nameof(request));
        if (length >= _options.MaxContext)
            throw new ArgumentException($"the prompt has {length} tokens; the context holds {_options.MaxContext}", nameof(request));
        if ((length + 1L + KvPagePool.PageTokens - 1) / KvPagePool.PageTokens > _pool.PageCount)
            throw new ArgumentException($"the prompt has {length} tokens; the KV cache memory holds {_pool.PageCount * KvPagePool.PageTokens} positions", nameof(request));
        foreach (int t in request.PromptTokens)
            if ((uint)t >= (uint)_vocab) throw new ArgumentException($"prompt token {t} is outside the vocabulary", nameof(request));
        if (request.MaxTokens < 1) throw new ArgumentOutOfRangeException(nameof(request), request.MaxTokens, "max_tokens must be ≥ 1");
        if (Tokenizer is null && !request.RawSampling)
            throw new ArgumentException("this engine has no tokenizer: requests must use RawSampling and read the token ids", nameof(request));
        request.Sampling.Validate();
        ObjectDisposedException.ThrowIf(_stopping, this);

        lock (_gate)
        {
            if (_waiting.Count + _requeued.Count + _runningCount >= _options.MaxConcurrentSequences + _options.MaxQueuedRequests)
            {
                Interlocked.Increment(ref _rejectedFull);
                stream = null;
                return false;
            }
            stream = new GenerationStream(this, request, Interlocked.Increment(ref _nextId));
            _waiting.Enqueue(stream);
        }
        var s = stream;
        if (cancellationToken.CanBeCanceled) s.Registration = cancellationToken.Register(() => s.Cancel());
        _wake.Release();
        return true;
    }

    internal void NotifyCancelled(GenerationStream stream) => _wake.Release();

    // ---- The scheduler loop --------------------------------------------------------------------------------

    private void RunScheduler()
    {
        while (!_stopping)
        {
            Admit();
            if (_running.Count == 0)
            {
                _wake.Wait(TimeSpan.FromMilliseconds(500));
                continue;
            }
            foreach (var run in _running)
                if (!run.Done && run.Stream.IsCancelled) Finish(run, FinishReason.Cancelled);
            try
            {
                if (!Step()) _wake.Wait(TimeSpan.FromMilliseconds(2)); // nothing could run (waiting for memory)
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A failed pass leaves its sequences' caches in an unknown state: end them, keep serving the rest.
                foreach (var item in _planner.Items)
                    if (!item.Run.Done) Finish(item.Run, FinishReason.Error, e.Message);
            }
            Reap();
        }
        // Shutting down: end everything still here.
        foreach (var run in _running) if (!run.Done) Finish(run, FinishReason.Cancelled);
        Reap();
        lock (_gate)
        {
            while (_requeued.TryDequeue(out var r)) { r.Preempted = false; Finish(r, FinishReason.Cancelled); OutputWriter.Deliver(r); }
            while (_waiting.TryDequeue(out var w)) _output.EndUnstarted(w, FinishReason.Cancelled);
        }
    }

    /// <summary>One forward pass over the planned rows, then every sequence's draw, drafts and cache registration.</summary>
    private bool Step()
    {
        long t0 = Stopwatch.GetTimestamp();
        int decoders = 0, speculating = 0, prefilling = 0;
        foreach (var run in _running)
        {
            if (run.Done || run.Preempted) continue;
            if (run.Prefilling) { prefilling++; continue; }
            decoders++;
            if (run.Speculating && run.DraftToken >= 0) speculating++;
        }
        _decoders = decoders;
        // A plain probe only where it measures something clean: decode rows alone.
        bool probe = speculating > 0 && prefilling == 0 && _speculation!.WantsPlainProbe(decoders, _steps);
        _planner.Plan(_running, _batch, _preempt, _fail, probe);
        if (_batch.SegmentCount == 0) return false;
        long t1 = Stopwatch.GetTimestamp();
        _batch.Run();
        long t2 = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _batchRows, _batch.TokenCount);
        _speculation?.Begin();
        foreach (var item in _planner.Items)
        {
            var run = item.Run;
            if (run.Done) continue;
            int first = run.Kv.Length - item.Fed;
            if (item.Kind == StepKind.Verify)
            {
                Verify(run, item.Segment, first);
                continue;
            }
            if (item.Draws)
            {
                bool firstDraw = run.Generated == 0;
                _output.Emit(run, _chooser.Choose(run, _batch.Logits(item.Segment)));
                if (firstDraw) _firstDraws.Add(run);
            }
            if (run.Speculating) _speculation!.CatchUp(run, _batch, item.Segment, first, draft: item.Draws && !run.Done);
        }
        long t3 = Stopwatch.GetTimestamp();
        _speculation?.Run();
        long t4 = Stopwatch.GetTimestamp();
        foreach (var run in _firstDraws) StorePrefix(run);
        _firstDraws.Clear();
        Volatile.Write(ref _pagesUsed, _pool.UsedPages);
        long t5 = Stopwatch.GetTimestamp();
        Interlocked.Add(ref _planTicks, t1 - t0);
        Interlocked.Add(ref _passTicks, t2 - t1);
        Interlocked.Add(ref _drawTicks, t3 - t2 + t5 - t4);
        Interlocked.Add(ref _mtpTicks, t4 - t3);
        // Whole steps (planning, drawing and streaming included), less the MTP pass a plain step would not have.
        if (_speculation is not null) MeasureSpeculation(t5 - t0 - (t4 - t3), t4 - t3, probe);
        return true;
    }

    /// <summary>
    /// Feeds the speculation cost model: a probe step (speculating sequences fed one plain token) gives the plain cost
    /// (its time without the MTP pass), a step of only verify rows the speculating cost (its whole time). Plain steps of
    /// sequences that stopped speculating are not counted: they come later in their generations, with longer contexts,
    /// and would make speculation look cheap. Steps with prefill rows or a mix are skipped.
    /// </summary>
    private void MeasureSpeculation(long mainTicks, long mtpTicks, bool probe)
    {
        int plain = 0, verify = 0;
        foreach (var item in _planner.Items)
        {
            if (item.Kind == StepKind.Verify) verify++;
            else if (item.Fed == 1 && item.Draws) plain++;
            else return; // a prefill chunk shares this pass
        }
        double seconds = (double)mainTicks / Stopwatch.Frequency;
        if (verify == 0 && plain > 0 && probe) _speculation!.ObservePlain(plain, seconds, _steps);
        else if (plain == 0 && verify > 0) _speculation!.ObserveSpeculating(verify, seconds + (double)mtpTicks / Stopwatch.Frequency);
    }

    private long _planTicks, _passTicks, _drawTicks, _mtpTicks;
    private int _decoders;

    /// <summary>
    /// Where the scheduler's time went since start: planning a step (pages, preemption), the main forward passes,
    /// drawing and streaming tokens (and registering prompt pages), and the MTP passes.
    /// </summary>
    public (TimeSpan Planning, TimeSpan Forward, TimeSpan Drawing, TimeSpan Mtp) StepTime => (
        Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _planTicks)), Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _passTicks)),
        Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _drawTicks)), Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _mtpTicks)));

    /// <summary>The first row of [last, draft] draws the real token; a confirmed draft lets the second row draw the next.</summary>
    private void Verify(SequenceRun run, int segment, int first)
    {
        int draft = run.DraftToken;
        run.DraftToken = -1;
        int chosen = _chooser.Choose(run, _batch.Logits(segment, 0));
        bool accepted = chosen == draft;
        Interlocked.Increment(ref _drafted);
        if (accepted) Interlocked.Increment(ref _accepted);
        _speculation!.Record(run, accepted, _decoders);
        if (!accepted) run.Kv.Truncate(first + 1); // forget the draft's position
        _output.Emit(run, chosen);
        if (accepted && !run.Done) _output.Emit(run, _chooser.Choose(run, _batch.Logits(segment, 1)));
        if (run.Speculating) _speculation.CatchUp(run, _batch, segment, first, draft: !run.Done);
    }

    private void StorePrefix(SequenceRun run)
    {
        if (Cache is not null && run.Request.UseContextCache) Cache.Store(run.Kv, ModelIdentity, run.Request.CachePartition, run.Feed, run.CachedTokens);
    }

    // ---- Admission, preemption, finishing ------------------------------------------------------------------

    private void Admit()
    {
        List<GenerationStream>? expired = null;
        List<SequenceRun>? cancelledRuns = null;
        var admitted = _admitted;
        admitted.Clear();
        int pending = 0;
        lock (_gate)
        {
            long now = Stopwatch.GetTimestamp();
            int n = _waiting.Count;
            for (int i = 0; i < n; i++)
            {
                var w = _waiting.Dequeue();
                if (w.IsCancelled || Stopwatch.GetElapsedTime(w.SubmittedAt, now) > _options.MaxQueueWait) (expired ??= []).Add(w);
                else _waiting.Enqueue(w);
            }
            // A preempted sequence whose client went away ends here, not after waiting for memory.
            int requeued = _requeued.Count;
            for (int i = 0; i < requeued; i++)
            {
                var r = _requeued.Dequeue();
                if (r.Stream.IsCancelled) (cancelledRuns ??= []).Add(r);
                else _requeued.Enqueue(r);
            }
            // Preempted sequences come back first (they are older), then new requests, while slots and memory last.
            while (_running.Count + admitted.Count < _options.MaxConcurrentSequences)
            {
                if (_requeued.TryPeek(out var back))
                {
                    if (!HasRoomFor(back.Pending, pending)) break;
                    admitted.Add((_requeued.Dequeue(), null));
                }
                else if (_waiting.TryPeek(out var next) && HasRoomFor(next.Request.PromptTokens.Length, pending))
                    admitted.Add((null, _waiting.Dequeue()));
                else break;
                pending += Math.Min(admitted[^1].Run?.Pending ?? admitted[^1].Stream!.Request.PromptTokens.Length, _options.PrefillChunkTokens) + 1;
            }
            // The admitted take their slots now, so a submission racing with this round counts them.
            Volatile.Write(ref _runningCount, _running.Count + admitted.Count);
        }
        // Context-cache lookups (possibly disk reads) happen outside the lock, so submissions never wait on them.
        int decoding = 0;
        foreach (var r in _running) if (!r.Done && !r.Prefilling) decoding++;
        foreach (var (back, stream) in admitted)
        {
            if (back is not null)
            {
                back.Preempted = false;
                Restore(back, countUsage: false);
                Insert(back);
                continue;
            }
            var run = new SequenceRun(stream!, new SequenceKv(_pool), Tokenizer, _vocab, _options.DefaultMaxReasoningTokens)
            {
                Order = ++_nextOrder,
                Speculating = SupportsSpeculation && _speculation!.WorthStarting(decoding + 1),
            };
            if (stream!.Request.ReturnTokens) run.GeneratedTokens = [];
            Restore(run, countUsage: true);
            Insert(run);
            stream.MarkStarted();
        }
        Volatile.Write(ref _runningCount, _running.Count);
        if (cancelledRuns is not null)
            foreach (var r in cancelledRuns) { r.Preempted = false; Finish(r, FinishReason.Cancelled); OutputWriter.Deliver(r); }
        if (expired is not null)
            foreach (var w in expired) _output.EndUnstarted(w, w.IsCancelled ? FinishReason.Cancelled : FinishReason.Expired);
    }

    private readonly List<(SequenceRun? Run, GenerationStream? Stream)> _admitted = [];

    /// <summary>
    /// Admission control: a first chunk of the feed must fit in free (or reclaimable) pages beside what this round
    /// already admitted (<paramref name="admittedTokens"/>), unless nothing runs at all.
    /// </summary>
    private bool HasRoomFor(int pending, int admittedTokens)
    {
        if (_running.Count == 0 && admittedTokens == 0) return true;
        int tokens = Math.Min(pending, _options.PrefillChunkTokens) + 1 + admittedTokens;
        int pages = (tokens + KvPagePool.PageTokens - 1) / KvPagePool.PageTokens;
        return _pool.FreePages + (Cache?.EvictablePages ?? 0) >= pages;
    }

    private void Restore(SequenceRun run, bool countUsage)
    {
        int cached = 0;
        if (Cache is not null && run.Request.UseContextCache)
            cached = Cache.Restore(run.Kv, ModelIdentity, run.Request.CachePartition, run.Feed);
        // A prefix adopted without MTP rows leaves the MTP cache behind with no hidden states to catch up from.
        if (run.Speculating && run.Kv.MtpDepth > 0 && run.Kv.MtpLength(0) < run.Kv.Length) run.Speculating = false;
        if (!countUsage) return;
        run.CachedTokens = cached;
        Interlocked.Add(ref _promptTokens, run.Request.PromptTokens.Length);
        Interlocked.Add(ref _cachedTokens, cached);
    }

    /// <summary>Keeps <see cref="_running"/> ordered by admission order (a readmitted sequence keeps its place).</summary>
    private void Insert(SequenceRun run)
    {
        int at = _running.Count;
        while (at > 0 && _running[at - 1].Order > run.Order) at--;
        _running.Insert(at, run);
    }

    /// <summary>Frees a sequence's pages and queues it to be recomputed (prompt and drawn tokens) when memory allows.</summary>
    private void Preempt(SequenceRun run)
    {
        run.Preempted = true;
        run.Preemptions++;
        run.DraftToken = -1;
        run.WindowDrafts = run.WindowAccepted = 0;
        run.Kv.Reset();
        Interlocked.Increment(ref _preemptions);
        lock (_gate) _requeued.Enqueue(run);
    }

    private void Finish(SequenceRun run, FinishReason reason, string? error = null) => _output.Finish(run, reason, error);

    /// <summary>
    /// Drops finished and preempted sequences from the running list. A finished one first indexes its whole pages —
    /// prompt and answer, so the next turn of a conversation hits its history — then gives its pages back.
    /// </summary>
    private void Reap()
    {
        for (int i = _running.Count - 1; i >= 0; i--)
        {
            var run = _running[i];
            if (run.Done && run.Outcome is FinishReason.Stop or FinishReason.Length) StorePrefix(run);
            if (run.Done) { run.Kv.Reset(); _reaped.Add(run); }
            if (run.Done || run.Preempted) _running.RemoveAt(i);
        }
        Volatile.Write(ref _runningCount, _running.Count);
        Volatile.Write(ref _pagesUsed, _pool.UsedPages);
        // Only now do callers see their results: the pages are indexed and the counters above are current.
        foreach (var run in _reaped) OutputWriter.Deliver(run);
        _reaped.Clear();
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Release();
        _scheduler.Join(TimeSpan.FromSeconds(30));
        _pool.Dispose();
        _wake.Dispose();
    }
}
