namespace SharpSeek.Model;

/// <summary>
/// One sequence being run through a <see cref="LanguageModel"/>: its KV cache (main layers and MTP layers) and every
/// activation buffer, all allocated here once, so <see cref="Decode"/> allocates nothing. Not thread-safe; use one
/// session per sequence. Long inputs are cut into chunks of <see cref="MaxBatch"/> tokens (each chunk's projections
/// are one GEMM with m = chunk length).
/// </summary>
public sealed class InferenceSession : IDisposable
{
    private readonly SessionState _state;
    private readonly float[] _lastLogits;
    private readonly int[] _mtpLength;

    public LanguageModel Model { get; }
    public int MaxContext { get; }
    public int MaxBatch { get; }
    /// <summary>Positions in the main KV cache (tokens consumed so far).</summary>
    public int Length { get; private set; }
    public KvCache Cache => _state.Cache;
    /// <summary>KV-cache bytes per token of this session's main layers.</summary>
    public long KvCacheBytesPerToken => _state.Cache.BytesPerToken;

    internal InferenceSession(LanguageModel model, SessionState state, int maxContext, int maxBatch)
    {
        Model = model;
        _state = state;
        MaxContext = maxContext;
        MaxBatch = maxBatch;
        _lastLogits = new float[model.Config.VocabSize];
        _mtpLength = new int[model.MtpDepth];
    }

    /// <summary>Positions cached by MTP depth <paramref name="depth"/>.</summary>
    public int MtpLength(int depth = 0) => _mtpLength[depth];

    /// <summary>
    /// Appends <paramref name="tokens"/> to the sequence. <paramref name="logits"/> receives [vocab] (last position),
    /// [tokens, vocab] (all positions) or nothing; <paramref name="hiddenOut"/>, when not empty, receives the final
    /// hidden states [tokens, hidden] after the final norm (the MTP module's input).
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, Span<float> logits, LogitsFor which = LogitsFor.LastPosition, Span<float> hiddenOut = default)
    {
        int v = Model.Config.VocabSize, h = Model.Config.HiddenSize, n = tokens.Length;
        if (n == 0) throw new ArgumentException("forward needs at least one token");
        if (Length + n > MaxContext) throw new InvalidOperationException($"sequence would reach {Length + n} positions; the session holds {MaxContext}");
        CheckOutputs(n, logits, which, hiddenOut);
        foreach (int t in tokens)
            if ((uint)t >= (uint)v) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token id outside the vocabulary [0, {v})");

        for (int start = 0; start < n; start += MaxBatch)
        {
            int count = Math.Min(MaxBatch, n - start);
            bool last = start + count == n;
            var chunkWhich = which == LogitsFor.AllPositions ? which : last ? which : LogitsFor.None;
            var chunkLogits = which == LogitsFor.AllPositions ? logits.Slice(start * v, count * v) : logits;
            var chunkHidden = hiddenOut.IsEmpty ? hiddenOut : hiddenOut.Slice(start * h, count * h);
            Model.Forward(_state, tokens.Slice(start, count), Length, chunkLogits, chunkWhich, chunkHidden);
            Length += count;
        }
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
        int limit = depth == 0 ? Length : _mtpLength[depth - 1];
        if (_mtpLength[depth] + n > limit)
            throw new InvalidOperationException($"MTP depth {depth} would reach position {_mtpLength[depth] + n} but its input covers {limit} positions");
        CheckOutputs(n, logits, which, hiddenOut);
        foreach (int t in nextTokens)
            if ((uint)t >= (uint)v) throw new ArgumentOutOfRangeException(nameof(nextTokens), t, $"token id outside the vocabulary [0, {v})");

        for (int start = 0; start < n; start += MaxBatch)
        {
            int count = Math.Min(MaxBatch, n - start);
            bool last = start + count == n;
            var chunkWhich = which == LogitsFor.AllPositions ? which : last ? which : LogitsFor.None;
            var chunkLogits = which == LogitsFor.AllPositions ? logits.Slice(start * v, count * v) : logits;
            var chunkHidden = hiddenOut.IsEmpty ? hiddenOut : hiddenOut.Slice(start * h, count * h);
            Model.ForwardMtp(_state, depth, hidden.Slice(start * h, count * h), nextTokens.Slice(start, count), _mtpLength[depth],
                chunkLogits, chunkWhich, chunkHidden);
            _mtpLength[depth] += count;
        }
    }

    /// <summary>Forgets every position from <paramref name="length"/> on (main and MTP caches), e.g. after rejected draft tokens.</summary>
    public void Truncate(int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "length must not be negative");
        Length = Math.Min(Length, length);
        for (int d = 0; d < _mtpLength.Length; d++) _mtpLength[d] = Math.Min(_mtpLength[d], length);
    }

    public void Reset() => Truncate(0);

    /// <summary>
    /// Declares that the first <paramref name="length"/> positions of <see cref="Cache"/> hold valid rows written
    /// directly into it (a context cache restoring a prefix), so the sequence continues from there. MTP caches are not
    /// part of <see cref="Cache"/> and keep at most their current length.
    /// </summary>
    public void AdoptCachedPrefix(int length)
    {
        if (length < 0 || length > MaxContext)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"prefix must be within [0, {MaxContext}]");
        Length = length;
        for (int d = 0; d < _mtpLength.Length; d++) _mtpLength[d] = Math.Min(_mtpLength[d], length);
    }

    private void CheckOutputs(int n, Span<float> logits, LogitsFor which, Span<float> hiddenOut)
    {
        int v = Model.Config.VocabSize, h = Model.Config.HiddenSize;
        long need = which switch { LogitsFor.AllPositions => (long)n * v, LogitsFor.LastPosition => v, _ => 0 };
        if (logits.Length < need) throw new ArgumentException($"logits need {need} floats for {which} over {n} tokens, got {logits.Length}");
        if (!hiddenOut.IsEmpty && hiddenOut.Length < (long)n * h)
            throw new ArgumentException($"hidden output needs {(long)n * h} floats for {n} tokens, got {hiddenOut.Length}");
    }

    public void Dispose() => _state.Dispose();
}
