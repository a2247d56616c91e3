using SharpSeek.Tensors;

namespace SharpSeek.Model;

/// <summary>
/// One sequence run through a <see cref="LanguageModel"/> on its own: the convenience over <see cref="ForwardBatch"/>
/// for tools that hold one sequence (logits, perplexity, tests, the single-stream benchmark). It owns a page pool just
/// large enough for <see cref="MaxContext"/> positions (main and MTP layers), one batch of <see cref="MaxBatch"/>
/// rows, and the sequence's cache, all allocated here once, so <see cref="Decode"/> allocates nothing. Long inputs are
/// cut into chunks of <see cref="MaxBatch"/> tokens. Not thread-safe. Serving many sequences at once goes through the
/// inference engine, which packs them into shared batches.
/// </summary>
public sealed class InferenceSession : IDisposable
{
    private readonly KvPagePool _pool;
    private readonly SequenceKv _kv;
    private readonly ForwardBatch _batch;
    private readonly float[] _lastLogits;

    public LanguageModel Model { get; }
    public int MaxContext { get; }
    public int MaxBatch { get; }
    /// <summary>Positions in the main cache (tokens consumed so far).</summary>
    public int Length => _kv.Length;
    /// <summary>The sequence's pages and lengths.</summary>
    public SequenceKv Kv => _kv;
    /// <summary>KV-cache bytes per token of this session's main layers.</summary>
    public long KvCacheBytesPerToken => _pool.BytesPerToken;

    internal InferenceSession(LanguageModel model, int maxContext, int maxBatch, DType kvCacheType)
    {
        Model = model;
        MaxContext = maxContext;
        MaxBatch = maxBatch;
        int pages = (maxContext + KvPagePool.PageTokens - 1) / KvPagePool.PageTokens;
        bool mtp = model.MtpDepth > 0;
        _pool = new KvPagePool(model, pages * KvPagePool.PageBytesFor(model, kvCacheType, mtp), kvCacheType, mtp);
        _kv = new SequenceKv(_pool);
        _batch = new ForwardBatch(model, maxBatch);
        _lastLogits = new float[model.Config.VocabSize];
    }

    /// <summary>Positions cached by MTP depth <paramref name="depth"/>.</summary>
    public int MtpLength(int depth = 0) => _kv.MtpLength(depth);

    /// <summary>
    /// Appends <paramref name="tokens"/> to the sequence. <paramref name="logits"/> receives [vocab] (last position),
    /// [tokens, vocab] (all positions) or nothing; <paramref name="hiddenOut"/>, when not empty, receives the final
    /// hidden states [tokens, hidden] after the final norm (the MTP module's input).
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, Span<float> logits, LogitsFor which = LogitsFor.LastPosition, Span<float> hiddenOut = default)
    {
        int v = Model.Config.VocabSize, n = tokens.Length;
        if (n == 0) throw new ArgumentException("forward needs at least one token");
        if (Length + n > MaxContext) throw new InvalidOperationException($"sequence would reach {Length + n} positions; the session holds {MaxContext}");
        CheckOutputs(n, logits, which, hiddenOut);
        foreach (int t in tokens)
            if ((uint)t >= (uint)v) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token id outside the vocabulary [0, {v})");
        Run(tokens, logits, which, hiddenOut, -1, default);
    }

    /// <summary>Appends one token and returns the next-token logits (a view of a session buffer, valid until the next call).</summary>
    public ReadOnlySpan<float> Decode(int token)
    {
        Forward([token], _lastLogits, LogitsFor.LastPosition);
        return _lastLogits;
    }

    /// <summary>Appends <paramref name="tokens"/> and returns the last position's logits (a view of a session buffer).</summary>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens)
    {
        Forward(tokens, _lastLogits, LogitsFor.LastPosition);
        return _lastLogits;
    }

    /// <summary>
    /// Runs MTP depth <paramref name="depth"/> for the next positions i = MtpLength(depth) … + T − 1: for each, the
    /// input is concat(enorm(embedding of <paramref name="nextTokens"/>[i], the token after position i), hnorm(
    /// <paramref name="hidden"/>[i], the previous depth's final hidden state at position i)) and the logits predict the
    /// token after that one. Depth 0 reads the main model's hidden states (see <see cref="Forward"/>'s hiddenOut), so
    /// its positions must already be in the main cache.
    /// </summary>
    public void ForwardMtp(ReadOnlySpan<float> hidden, ReadOnlySpan<int> nextTokens, Span<float> logits,
        LogitsFor which = LogitsFor.LastPosition, int depth = 0, Span<float> hiddenOut = default)
    {
        if ((uint)depth >= (uint)Model.MtpDepth) throw new ArgumentOutOfRangeException(nameof(depth), depth, $"the model has {Model.MtpDepth} MTP depths");
        int v = Model.Config.VocabSize, h = Model.Config.HiddenSize, n = nextTokens.Length;
        if (n == 0) throw new ArgumentException("MTP forward needs at least one token");
        if (hidden.Length != n * h) throw new ArgumentException($"MTP: {n} tokens need hidden states of {n * h} floats, got {hidden.Length}");
        int limit = depth == 0 ? Length : _kv.MtpLength(depth - 1);
        if (_kv.MtpLength(depth) + n > limit)
            throw new InvalidOperationException($"MTP depth {depth} would reach position {_kv.MtpLength(depth) + n} but its input covers {limit} positions");
        CheckOutputs(n, logits, which, hiddenOut);
        foreach (int t in nextTokens)
            if ((uint)t >= (uint)v) throw new ArgumentOutOfRangeException(nameof(nextTokens), t, $"token id outside the vocabulary [0, {v})");
        Run(nextTokens, logits, which, hiddenOut, depth, hidden);
    }

    /// <summary>
    /// Runs <paramref name="tokens"/> in chunks of <see cref="MaxBatch"/> through the main model (<paramref name="mtpDepth"/>
    /// −1) or an MTP depth (reading <paramref name="mtpHidden"/>), and copies the outputs.
    /// </summary>
    private void Run(ReadOnlySpan<int> tokens, Span<float> logits, LogitsFor which, Span<float> hiddenOut, int mtpDepth, ReadOnlySpan<float> mtpHidden)
    {
        int v = Model.Config.VocabSize, h = Model.Config.HiddenSize, n = tokens.Length;
        for (int start = 0; start < n; start += MaxBatch)
        {
            int count = Math.Min(MaxBatch, n - start);
            bool last = start + count == n;
            var chunkWhich = which == LogitsFor.AllPositions ? which : last ? which : LogitsFor.None;
            int from = mtpDepth < 0 ? _kv.Length : _kv.MtpLength(mtpDepth);
            if (!_kv.TryPrepare(from, from + count))
                throw new InvalidOperationException("the session's page pool is exhausted"); // sized for MaxContext: cannot happen
            _batch.Clear();
            if (mtpDepth < 0) _batch.Add(_kv, tokens.Slice(start, count), chunkWhich);
            else _batch.AddMtp(_kv, mtpHidden.Slice(start * h, count * h), tokens.Slice(start, count), chunkWhich, mtpDepth);
            _batch.Run();
            if (chunkWhich == LogitsFor.AllPositions)
                for (int t = 0; t < count; t++) _batch.Logits(0, t).CopyTo(logits.Slice((start + t) * v, v));
            else if (chunkWhich == LogitsFor.LastPosition)
                _batch.Logits(0).CopyTo(logits);
            if (!hiddenOut.IsEmpty) _batch.HiddenRows(0).CopyTo(hiddenOut.Slice(start * h, count * h));
        }
    }

    /// <summary>Forgets every position from <paramref name="length"/> on (main and MTP caches), e.g. after rejected draft tokens.</summary>
    public void Truncate(int length) => _kv.Truncate(length);

    public void Reset() => _kv.Reset();

    private void CheckOutputs(int n, Span<float> logits, LogitsFor which, Span<float> hiddenOut)
    {
        int v = Model.Config.VocabSize, h = Model.Config.HiddenSize;
        long need = which switch { LogitsFor.AllPositions => (long)n * v, LogitsFor.LastPosition => v, _ => 0 };
        if (logits.Length < need) throw new ArgumentException($"logits need {need} floats for {which} over {n} tokens, got {logits.Length}");
        if (!hiddenOut.IsEmpty && hiddenOut.Length < (long)n * h)
            throw new ArgumentException($"hidden output needs {(long)n * h} floats for {n} tokens, got {hiddenOut.Length}");
    }

    public void Dispose()
    {
        _kv.Dispose();
        _pool.Dispose();
    }
}
