using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using SharpSeek.Model;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tokenizer;
using SharpSeek.Tokenizer.Chat;

namespace SharpSeek.Inference;

/// <summary>
/// Runs generations over one <see cref="LanguageModel"/> with continuous batching: a scheduler thread steps every
/// running sequence once per round (a prefill chunk or one decode), and between rounds finished or cancelled
/// sequences leave and queued requests take their slots. Each sequence owns a pooled <see cref="InferenceSession"/>
/// (its KV cache); a <see cref="ContextCache"/> restores prompt prefixes instead of prefilling them. Thread-safe:
/// <see cref="TrySubmit"/> may be called from any thread.
/// </summary>
public sealed class InferenceEngine : IDisposable
{
    private readonly EngineOptions _options;
    private readonly object _gate = new();
    private readonly Queue<GenerationStream> _waiting = new();
    private readonly List<SequenceRun> _running = [];
    private readonly Stack<InferenceSession> _freeSessions = new();
    private readonly List<InferenceSession> _allSessions = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _scheduler;
    private readonly int _vocab;
    private readonly int _eos;
    private readonly int _thinkEnd;
    private readonly int[] _undecodable;
    private readonly float[] _mtpLogits;
    private long _nextId;
    private int _runningCount;
    private volatile bool _stopping;

    // Counters (read by metrics).
    private long _promptTokens, _cachedTokens, _generatedTokens, _completed, _drafted, _accepted, _rejectedFull;

    public InferenceEngine(LanguageModel model, ByteLevelBpeTokenizer tokenizer, string modelIdentity, EngineOptions? options = null, ContextCache? cache = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        ModelIdentity = modelIdentity;
        _options = options ?? new EngineOptions();
        _options.Validate();
        Cache = cache;
        _vocab = model.Config.VocabSize;
        _eos = tokenizer.EosTokenId ?? tokenizer.TokenToId(DeepSeekTokens.EndOfSentence) ?? -1;
        _thinkEnd = tokenizer.TokenToId(DeepSeekTokens.ThinkEnd) ?? -1;
        var undecodable = new List<int>();
        for (int id = 0; id < _vocab; id++)
        {
            if (id >= tokenizer.VocabularySize) { undecodable.Add(id); continue; }
            try { _ = tokenizer.TokenBytes(id); }
            catch (ArgumentOutOfRangeException) { undecodable.Add(id); }
        }
        _undecodable = undecodable.ToArray();
        Prompts = new ChatPromptFormatter(tokenizer);
        SupportsSpeculation = _options.SpeculativeDecoding && model.MtpDepth > 0;
        _mtpLogits = SupportsSpeculation ? new float[_vocab] : [];
        _scheduler = new Thread(RunScheduler) { IsBackground = true, Name = "sharpseek-scheduler" };
        _scheduler.Start();
    }

    public LanguageModel Model { get; }
    public ByteLevelBpeTokenizer Tokenizer { get; }
    public ChatPromptFormatter Prompts { get; }
    /// <summary>Names the weights (part of every context-cache key).</summary>
    public string ModelIdentity { get; }
    public ContextCache? Cache { get; }
    public EngineOptions Options => _options;
    public bool SupportsSpeculation { get; }
    public int EndOfSequenceToken => _eos;

    public int RunningSequences => Volatile.Read(ref _runningCount);
    public int QueuedRequests { get { lock (_gate) return _waiting.Count; } }
    public long PromptTokens => Interlocked.Read(ref _promptTokens);
    public long CachedPromptTokens => Interlocked.Read(ref _cachedTokens);
    public long GeneratedTokens => Interlocked.Read(ref _generatedTokens);
    public long CompletedRequests => Interlocked.Read(ref _completed);
    public long RefusedRequests => Interlocked.Read(ref _rejectedFull);
    public long DraftedTokens => Interlocked.Read(ref _drafted);
    public long AcceptedDraftTokens => Interlocked.Read(ref _accepted);
    /// <summary>Share of MTP drafts the main model confirmed (0 before any draft).</summary>
    public double DraftAcceptanceRate { get { long d = DraftedTokens; return d == 0 ? 0 : (double)AcceptedDraftTokens / d; } }

    /// <summary>
    /// Queues <paramref name="request"/>. Returns false (and no stream) when every slot is busy and the queue is full.
    /// Cancelling <paramref name="cancellationToken"/> stops the generation before the next scheduler step.
    /// </summary>
    public bool TrySubmit(GenerationRequest request, CancellationToken cancellationToken, [NotNullWhen(true)] out GenerationStream? stream)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.PromptTokens.Length == 0) throw new ArgumentException("the prompt is empty", nameof(request));
        if (request.PromptTokens.Length >= _options.MaxContext)
            throw new ArgumentException($"the prompt has {request.PromptTokens.Length} tokens; the context holds {_options.MaxContext}", nameof(request));
        foreach (int t in request.PromptTokens)
            if ((uint)t >= (uint)_vocab) throw new ArgumentException($"prompt token {t} is outside the vocabulary", nameof(request));
        if (request.MaxTokens < 1) throw new ArgumentOutOfRangeException(nameof(request), request.MaxTokens, "max_tokens must be ≥ 1");
        request.Sampling.Validate();
        ObjectDisposedException.ThrowIf(_stopping, this);

        lock (_gate)
        {
            if (_waiting.Count + _runningCount >= _options.MaxConcurrentSequences + _options.MaxQueuedRequests)
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

    // ---- Scheduler -----------------------------------------------------------------------------------------

    private void RunScheduler()
    {
        while (!_stopping)
        {
            AdmitAndExpire();
            if (_running.Count == 0)
            {
                _wake.Wait(TimeSpan.FromMilliseconds(500));
                continue;
            }
            for (int i = 0; i < _running.Count; i++)
            {
                var run = _running[i];
                if (run.Stream.IsCancelled) { Finish(run, FinishReason.Cancelled); continue; }
                try { Step(run); }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    Finish(run, FinishReason.Error, e.Message);
                }
            }
            int removed = _running.RemoveAll(r => r.Done);
            if (removed > 0) Interlocked.Add(ref _runningCount, -removed);
        }
        // Shutting down: end everything still here.
        foreach (var run in _running) if (!run.Done) Finish(run, FinishReason.Cancelled);
        _running.Clear();
        lock (_gate)
            while (_waiting.TryDequeue(out var w)) EndUnstarted(w, FinishReason.Cancelled);
    }

    private void AdmitAndExpire()
    {
        List<GenerationStream>? ended = null;
        lock (_gate)
        {
            if (_waiting.Count == 0) return;
            int n = _waiting.Count;
            long now = Stopwatch.GetTimestamp();
            for (int i = 0; i < n; i++)
            {
                var w = _waiting.Dequeue();
                if (w.IsCancelled || Stopwatch.GetElapsedTime(w.SubmittedAt, now) > _options.MaxQueueWait)
                {
                    (ended ??= []).Add(w);
                    continue;
                }
                if (_runningCount < _options.MaxConcurrentSequences)
                {
                    var session = RentSession();
                    _running.Add(new SequenceRun(w, session, Tokenizer, _vocab, _options.DefaultMaxReasoningTokens, SupportsSpeculation ? Model.Config.HiddenSize : 0));
                    _runningCount++;
                    w.MarkStarted();
                }
                else _waiting.Enqueue(w);
            }
        }
        if (ended is not null)
            foreach (var w in ended) EndUnstarted(w, w.IsCancelled ? FinishReason.Cancelled : FinishReason.Expired);
    }

    private void EndUnstarted(GenerationStream w, FinishReason reason)
    {
        Interlocked.Increment(ref _completed);
        w.Finish(new GenerationResult
        {
            FinishReason = reason,
            Usage = new GenerationUsage { PromptTokens = w.Request.PromptTokens.Length },
            QueueTime = Stopwatch.GetElapsedTime(w.SubmittedAt),
        });
    }

    private InferenceSession RentSession()
    {
        if (_freeSessions.TryPop(out var s)) return s;
        s = Model.CreateSession(_options.MaxContext, Math.Min(_options.PrefillChunkTokens, _options.MaxContext));
        _allSessions.Add(s);
        return s;
    }

    private void Step(SequenceRun run)
    {
        var prompt = run.Request.PromptTokens;
        var session = run.Session;
        if (!run.PrefillDone)
        {
            if (!run.CacheLookedUp)
            {
                run.CacheLookedUp = true;
                if (Cache is not null && run.Request.UseContextCache)
                {
                    run.CachedTokens = Cache.Restore(session, ModelIdentity, prompt);
                    run.Prefilled = run.CachedTokens;
                }
                Interlocked.Add(ref _promptTokens, prompt.Length);
                Interlocked.Add(ref _cachedTokens, run.CachedTokens);
            }
            int n = Math.Min(_options.PrefillChunkTokens, prompt.Length - run.Prefilled);
            var chunk = prompt.AsSpan(run.Prefilled, n);
            bool last = run.Prefilled + n == prompt.Length;
            bool speculate = SupportsSpeculation && run.CachedTokens == 0;
            if (speculate)
            {
                // The MTP head needs its own cache over every position, fed with the main hidden states.
                int h = Model.Config.HiddenSize;
                var hidden = HiddenScratch(n);
                session.Forward(chunk, last ? run.Logits : Span<float>.Empty, last ? LogitsFor.LastPosition : LogitsFor.None, hidden);
                int known = last ? n - 1 : n; // the next token of the prompt's last position is not drawn yet
                if (known > 0) session.ForwardMtp(hidden[..(known * h)], prompt.AsSpan(run.Prefilled + 1, known), Span<float>.Empty, LogitsFor.None);
                if (last) hidden.Slice((n - 1) * h, h).CopyTo(run.Hidden);
            }
            else if (!last) session.Forward(chunk, Span<float>.Empty, LogitsFor.None);
            run.Prefilled += n;
            if (!last) return;

            ReadOnlySpan<float> logits = speculate ? run.Logits : session.Prefill(chunk);
            if (Cache is not null && run.Request.UseContextCache)
                Cache.Store(session, ModelIdentity, prompt, run.CachedTokens);
            int first = Choose(run, logits);
            Emit(run, first);
            if (!run.Done && speculate) Draft(run, first);
            return;
        }

        if (run.DraftToken >= 0 && session.Length + 2 <= session.MaxContext)
        {
            Verify(run);
            return;
        }
        var next = session.Decode(run.LastToken);
        int token = Choose(run, next);
        Emit(run, token);
    }

    // ---- MTP self-speculative decoding --------------------------------------------------------------------

    private float[] _hiddenChunk = [];
    private readonly int[] _pair = new int[2];
    private readonly int[] _single = new int[1];
    private float[] _pairLogits = [];
    private float[] _pairHidden = [];

    private Span<float> HiddenScratch(int tokens)
    {
        int need = tokens * Model.Config.HiddenSize;
        if (_hiddenChunk.Length < need) _hiddenChunk = new float[need];
        return _hiddenChunk.AsSpan(0, need);
    }

    /// <summary>
    /// MTP depth 0 reads the final hidden state of the newest cached position (<see cref="SequenceRun.Hidden"/>) and
    /// the embedding of <paramref name="token"/> (the token after it) and predicts the token after that: the draft.
    /// </summary>
    private void Draft(SequenceRun run, int token)
    {
        var session = run.Session;
        run.DraftToken = -1;
        if (session.MtpLength() != session.Length - 1) return;
        _single[0] = token;
        session.ForwardMtp(run.Hidden, _single, _mtpLogits, LogitsFor.LastPosition);
        run.DraftToken = Selection.Argmax(_mtpLogits);
    }

    /// <summary>
    /// Runs [last token, draft] through the main model in one forward. The first row's distribution draws the real
    /// next token (so the output follows the main model exactly); when it equals the draft, the second row gives the
    /// token after it from the same forward: two tokens for one pass.
    /// </summary>
    private void Verify(SequenceRun run)
    {
        var session = run.Session;
        int h = Model.Config.HiddenSize;
        if (_pairLogits.Length == 0) { _pairLogits = new float[2 * _vocab]; _pairHidden = new float[2 * h]; }
        _pair[0] = run.LastToken;
        _pair[1] = run.DraftToken;
        int baseLength = session.Length;
        session.Forward(_pair, _pairLogits, LogitsFor.AllPositions, _pairHidden);
        run.Drafted++;
        Interlocked.Increment(ref _drafted);
        int chosen = Choose(run, _pairLogits.AsSpan(0, _vocab));
        if (chosen != run.DraftToken)
        {
            // Rejected: forget the draft's position; the head drafts again after the drawn token.
            session.Truncate(baseLength + 1);
            _pairHidden.AsSpan(0, h).CopyTo(run.Hidden);
            run.DraftToken = -1;
            Emit(run, chosen);
            if (!run.Done) Draft(run, chosen);
            return;
        }
        run.Accepted++;
        Interlocked.Increment(ref _accepted);
        // The MTP cache takes the position of the last token (its next token is the accepted draft) before drafting on.
        _single[0] = chosen;
        session.ForwardMtp(_pairHidden.AsSpan(0, h), _single, Span<float>.Empty, LogitsFor.None);
        run.DraftToken = -1;
        Emit(run, chosen);
        if (run.Done) return;
        int second = Choose(run, _pairLogits.AsSpan(_vocab, _vocab));
        _pairHidden.AsSpan(h, h).CopyTo(run.Hidden);
        Emit(run, second);
        if (!run.Done) Draft(run, second);
    }

    // ---- Sampling and emission ----------------------------------------------------------------------------

    private int Choose(SequenceRun run, ReadOnlySpan<float> raw)
    {
        var logits = run.Penalised(raw);
        foreach (int id in _undecodable) logits[id] = float.NegativeInfinity;
        // A reasoner's answer follows its reasoning: the sequence cannot end inside the reasoning block, nor before the
        // first token of the answer.
        bool mustContinue = run.Request.IgnoreEndOfSequence || run.InReasoning || (run.Request.StartsInReasoning && run.Content.Length == 0 && run.Generated == run.ReasoningTokens);
        if (mustContinue && _eos >= 0) logits[_eos] = float.NegativeInfinity;

        if (run.InReasoning && _thinkEnd >= 0 && run.ReasoningTokens >= run.MaxReasoning - 1) return _thinkEnd;
        if (!run.InReasoning && _thinkEnd >= 0) logits[_thinkEnd] = float.NegativeInfinity;

        if (run.Json is { } json && !run.InReasoning)
        {
            if (json.IsComplete) return _eos >= 0 ? _eos : Selection.Argmax(logits);
            for (int attempt = 0; attempt < 16; attempt++)
            {
                int t = SampleSafely(run, logits);
                if (t < 0) break;
                if (AcceptsJson(json, t)) return t;
                logits[t] = float.NegativeInfinity;
            }
            for (int id = 0; id < logits.Length; id++)
                if (!float.IsNegativeInfinity(logits[id]) && !AcceptsJson(json, id)) logits[id] = float.NegativeInfinity;
            int pick = SampleSafely(run, logits);
            return pick >= 0 ? pick : (_eos >= 0 ? _eos : 0);
        }
        int token = SampleSafely(run, logits);
        return token >= 0 ? token : (_eos >= 0 ? _eos : 0);
    }

    private bool AcceptsJson(JsonValueRecognizer json, int token) =>
        token != _eos && !Tokenizer.IsSpecial(token) && json.CanFeed(Tokenizer.TokenBytes(token));

    private static int SampleSafely(SequenceRun run, Span<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits) if (v > max) max = v;
        if (float.IsNegativeInfinity(max) || float.IsNaN(max)) return -1;
        return run.Sampler.Sample(logits);
    }

    private void Emit(SequenceRun run, int token)
    {
        if (run.FirstTokenAt == 0) run.FirstTokenAt = Stopwatch.GetTimestamp();
        run.Generated++;
        run.LastToken = token;
        run.Count(token);
        Interlocked.Increment(ref _generatedTokens);
        TokenLogprob? chosen = null;
        TokenLogprob[]? alternatives = null;
        if (run.Request.TopLogprobs is int top) (chosen, alternatives) = Logprobs(run, token, top);

        if (run.InReasoning) run.ReasoningTokens++;
        if (token == _eos) { Finish(run, FinishReason.Stop); return; }

        if (run.InReasoning && token == _thinkEnd)
        {
            run.InReasoning = false;
            string tail = run.Decoder.Flush();
            if (tail.Length > 0) Write(run, OutputChannel.Reasoning, tail, null, null);
        }
        else
        {
            string text = run.Decoder.Append(token);
            if (run.InReasoning)
            {
                if (text.Length > 0 || chosen is not null) Write(run, OutputChannel.Reasoning, text, chosen, alternatives);
            }
            else
            {
                if (run.Json is { } json) json.TryFeed(Tokenizer.TokenBytes(token));
                string emit = run.Stops.Push(text, out bool stopped);
                if (emit.Length > 0 || chosen is not null) Write(run, OutputChannel.Content, emit, chosen, alternatives);
                if (stopped) { Finish(run, FinishReason.Stop, flush: false); return; }
            }
        }
        if (run.Generated >= run.Request.MaxTokens || run.Session.Length + 1 >= run.Session.MaxContext)
            Finish(run, FinishReason.Length);
    }

    private (TokenLogprob, TokenLogprob[]) Logprobs(SequenceRun run, int token, int top)
    {
        float[] logits = run.Logits;
        float max = float.NegativeInfinity;
        foreach (float v in logits) if (v > max) max = v;
        double sum = 0;
        foreach (float v in logits) if (!float.IsNegativeInfinity(v)) sum += Math.Exp(v - max);
        float logZ = max + (float)Math.Log(sum);
        TokenLogprob Of(int id)
        {
            byte[] bytes = id < Tokenizer.VocabularySize ? Tokenizer.TokenBytes(id).ToArray() : [];
            return new TokenLogprob(System.Text.Encoding.UTF8.GetString(bytes), logits[id] - logZ, bytes);
        }
        var alternatives = new TokenLogprob[Math.Min(top, logits.Length)];
        if (alternatives.Length > 0)
        {
            Span<int> idx = stackalloc int[alternatives.Length];
            Selection.TopK(logits, idx);
            for (int i = 0; i < idx.Length; i++) alternatives[i] = Of(idx[i]);
        }
        return (Of(token), alternatives);
    }

    private static void Write(SequenceRun run, OutputChannel channel, string text, TokenLogprob? chosen, TokenLogprob[]? alternatives)
    {
        (channel == OutputChannel.Reasoning ? run.Reasoning : run.Content).Append(text);
        run.Stream.Write(new GenerationDelta(channel, text, chosen, alternatives));
    }

    private void Finish(SequenceRun run, FinishReason reason, string? error = null, bool flush = true)
    {
        if (run.Done) return;
        run.Done = true;
        if (flush && reason is FinishReason.Stop or FinishReason.Length)
        {
            string tail = run.Decoder.Flush();
            if (run.InReasoning)
            {
                if (tail.Length > 0) Write(run, OutputChannel.Reasoning, tail, null, null);
            }
            else
            {
                string emit = run.Stops.Push(tail, out _) + run.Stops.Flush();
                if (emit.Length > 0) Write(run, OutputChannel.Content, emit, null, null);
            }
        }
        long now = Stopwatch.GetTimestamp();
        var result = new GenerationResult
        {
            FinishReason = reason,
            Error = error,
            Content = run.Content.ToString(),
            Reasoning = run.Reasoning.ToString(),
            Usage = new GenerationUsage
            {
                PromptTokens = run.Request.PromptTokens.Length,
                CachedPromptTokens = run.CachedTokens,
                CompletionTokens = run.Generated,
                ReasoningTokens = run.ReasoningTokens,
                DraftedTokens = run.Drafted,
                AcceptedDraftTokens = run.Accepted,
            },
            QueueTime = Stopwatch.GetElapsedTime(run.Stream.SubmittedAt, run.StartedAt),
            TimeToFirstToken = run.FirstTokenAt == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(run.StartedAt, run.FirstTokenAt),
            GenerationTime = Stopwatch.GetElapsedTime(run.StartedAt, now),
        };
        run.Session.Reset();
        _freeSessions.Push(run.Session);
        Interlocked.Increment(ref _completed);
        run.Stream.Finish(result);
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Release();
        _scheduler.Join(TimeSpan.FromSeconds(30));
        foreach (var s in _allSessions) s.Dispose();
        _wake.Dispose();
    }
}
