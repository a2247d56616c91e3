using SharpSeek.Tensors.Kernels;

namespace SharpSeek.Model;

/// <summary>
/// One forward pass over a ragged batch: any number of sequences, each contributing a run of tokens at its next
/// positions (a decode token, a speculative pair, a prefill chunk), packed into one [tokens, hidden] activation. Every
/// projection runs once over all rows (each weight is read once per pass); attention runs per sequence over its own
/// pages. A batch holds either main-model segments (<see cref="Add"/>) or segments of one MTP depth
/// (<see cref="AddMtp"/>). Reusable: <see cref="Clear"/>, add, <see cref="Run"/>, read, repeat — nothing is allocated
/// per pass once the buffers have grown to the working size.
/// </summary>
/// <remarks>
/// Every kernel computes a row the same way whatever else is in the batch, so a sequence's logits are bit-identical
/// whether it runs alone or beside others (the engine's outputs do not depend on its load).
/// </remarks>
public sealed class ForwardBatch
{
    private readonly int _vocab, _hidden;
    private readonly int[] _tokens;
    private Segment[] _segments = new Segment[16];
    private AttentionSequence[] _attention = new AttentionSequence[16];
    private int[] _pageTable = new int[64];
    private float[] _logits = [];
    private float[] _headInput = [];
    private float[] _mtpHidden = [];
    private int _logitRows;
    private int _pageTableLength;

    public ForwardBatch(LanguageModel model, int maxTokens)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (maxTokens <= 0) throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "a batch needs room for at least one token");
        Model = model;
        MaxTokens = maxTokens;
        _vocab = model.Config.VocabSize;
        _hidden = model.Config.HiddenSize;
        _tokens = new int[maxTokens];
        Scratch = model.CreateScratch(maxTokens);
    }

    public LanguageModel Model { get; }
    public int MaxTokens { get; }
    public int TokenCount { get; private set; }
    public int SegmentCount { get; private set; }
    /// <summary>−1 for a main-model batch, else the MTP depth its segments run through.</summary>
    public int MtpDepth { get; private set; } = -1;
    /// <summary>The pool every segment's cache lives in (one per batch).</summary>
    public KvPagePool? Pool { get; private set; }
    /// <summary>True after <see cref="Run"/> until the next <see cref="Clear"/> or add.</summary>
    public bool HasRun { get; private set; }

    internal BatchScratch Scratch { get; }
    internal ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, TokenCount);
    internal ReadOnlySpan<Segment> Segments => _segments.AsSpan(0, SegmentCount);
    internal ReadOnlySpan<AttentionSequence> AttentionSequences => _attention.AsSpan(0, SegmentCount);
    internal ReadOnlySpan<int> PageTable => _pageTable.AsSpan(0, _pageTableLength);
    /// <summary>MTP input hidden states [tokens, hidden] in row order.</summary>
    internal ReadOnlySpan<float> MtpHidden => _mtpHidden.AsSpan(0, TokenCount * _hidden);
    /// <summary>The cache layer this batch's blocks read and write (main: the block index; MTP: after the main layers).</summary>
    internal int CacheLayer(int block) => MtpDepth < 0 ? block : Pool!.MainLayers + MtpDepth;

    internal readonly record struct Segment(SequenceKv Kv, int FirstRow, int Tokens, int FirstPosition, LogitsFor Which, int FirstLogitRow);

    public void Clear()
    {
        TokenCount = 0;
        SegmentCount = 0;
        _logitRows = 0;
        MtpDepth = -1;
        Pool = null;
        HasRun = false;
    }

    /// <summary>Free token rows left in this batch.</summary>
    public int RemainingTokens => MaxTokens - TokenCount;

    /// <summary>
    /// Adds <paramref name="tokens"/> at <paramref name="kv"/>'s next positions. The positions must have been made
    /// writable (<see cref="SequenceKv.TryPrepare"/>). Returns the segment's index.
    /// </summary>
    public int Add(SequenceKv kv, ReadOnlySpan<int> tokens, LogitsFor which = LogitsFor.LastPosition)
    {
        if (MtpDepth >= 0 && SegmentCount > 0) throw new InvalidOperationException("this batch holds MTP segments; main-model segments go in another batch");
        return AddSegment(kv, tokens, which, kv.Length, -1);
    }

    /// <summary>
    /// Adds rows for MTP depth <paramref name="depth"/> at <paramref name="kv"/>'s next MTP positions i: each row reads
    /// <paramref name="hidden"/>[i] (the previous depth's final hidden state at i; depth 0 reads the main model's) and
    /// the embedding of <paramref name="nextTokens"/>[i] (the token after position i), and predicts the token after that.
    /// </summary>
    public int AddMtp(SequenceKv kv, ReadOnlySpan<float> hidden, ReadOnlySpan<int> nextTokens, LogitsFor which = LogitsFor.LastPosition, int depth = 0)
    {
        if (SegmentCount > 0 && MtpDepth != depth) throw new InvalidOperationException($"this batch holds {(MtpDepth < 0 ? "main-model" : $"MTP depth {MtpDepth}")} segments");
        if ((uint)depth >= (uint)kv.MtpDepth)
            throw new ArgumentOutOfRangeException(nameof(depth), depth, $"the cache holds {kv.MtpDepth} MTP depths (a pool made with includeMtp caches them)");
        int n = nextTokens.Length;
        if (hidden.Length != n * _hidden) throw new ArgumentException($"MTP: {n} tokens need hidden states of {n * _hidden} floats, got {hidden.Length}");
        int limit = depth == 0 ? kv.Length : kv.MtpLength(depth - 1);
        if (kv.MtpLength(depth) + n > limit)
            throw new InvalidOperationException($"MTP depth {depth} would reach position {kv.MtpLength(depth) + n} but its input covers {limit} positions");
        int first = TokenCount;
        int segment = AddSegment(kv, nextTokens, which, kv.MtpLength(depth), depth);
        if (_mtpHidden.Length < (first + n) * _hidden) Array.Resize(ref _mtpHidden, Math.Max((first + n) * _hidden, MaxTokens * _hidden));
        hidden.CopyTo(_mtpHidden.AsSpan(first * _hidden));
        return segment;
    }

    private int AddSegment(SequenceKv kv, ReadOnlySpan<int> tokens, LogitsFor which, int firstPosition, int depth)
    {
        ArgumentNullException.ThrowIfNull(kv);
        int n = tokens.Length;
        if (n == 0) throw new ArgumentException("a segment needs at least one token", nameof(tokens));
        if (n > RemainingTokens) throw new ArgumentException($"{n} tokens do not fit: the batch has {RemainingTokens} of {MaxTokens} rows left", nameof(tokens));
        if (Pool is not null && kv.Pool != Pool) throw new ArgumentException("every sequence of a batch must use the same page pool", nameof(kv));
        if (kv.Pool.Model != Model) throw new ArgumentException("the sequence's page pool belongs to another model", nameof(kv));
        foreach (var s in Segments)
            if (s.Kv == kv) throw new ArgumentException("a sequence appears once per batch", nameof(kv));
        foreach (int t in tokens)
            if ((uint)t >= (uint)_vocab) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token id outside the vocabulary [0, {_vocab})");
        int end = firstPosition + n;
        if (end > Model.MaxPositions) throw new InvalidOperationException($"sequence would reach {end} positions; the model covers {Model.MaxPositions} (ModelOptions.MaxPositions)");
        if (end > kv.Capacity) throw new InvalidOperationException($"positions up to {end} are not prepared (the sequence holds {kv.Capacity}); call TryPrepare first");
        var pages = kv.Pages;
        for (int i = firstPosition / KvPagePool.PageTokens; i <= (end - 1) / KvPagePool.PageTokens; i++)
            if (kv.Pool.Owners(pages[i]) != 1) throw new InvalidOperationException($"page {pages[i]} is shared; TryPrepare copies it before it is written");

        HasRun = false;
        Pool = kv.Pool;
        MtpDepth = depth;
        tokens.CopyTo(_tokens.AsSpan(TokenCount));
        if (SegmentCount == _segments.Length)
        {
            Array.Resize(ref _segments, SegmentCount * 2);
            Array.Resize(ref _attention, SegmentCount * 2);
        }
        int rows = which switch { LogitsFor.AllPositions => n, LogitsFor.LastPosition => 1, _ => 0 };
        _segments[SegmentCount] = new Segment(kv, TokenCount, n, firstPosition, which, _logitRows);
        _logitRows += rows;
        TokenCount += n;
        return SegmentCount++;
    }

    /// <summary>Runs the pass: appends every segment's rows to its cache and computes the requested logits.</summary>
    public void Run()
    {
        if (SegmentCount == 0) throw new InvalidOperationException("the batch is empty");
        if (HasRun) throw new InvalidOperationException("the batch already ran; clear it and add segments again");
        // One page table for the whole pass: each sequence's pages back to back.
        int total = 0;
        foreach (var s in Segments) total += s.Kv.Pages.Length;
        if (_pageTable.Length < total) _pageTable = new int[Math.Max(total, _pageTable.Length * 2)];
        int at = 0;
        for (int i = 0; i < SegmentCount; i++)
        {
            var s = _segments[i];
            _attention[i] = new AttentionSequence(s.FirstRow, s.Tokens, s.FirstPosition, at);
            s.Kv.Pages.CopyTo(_pageTable.AsSpan(at));
            at += s.Kv.Pages.Length;
        }
        _pageTableLength = total;
        if (_logits.Length < (long)_logitRows * _vocab) _logits = new float[checked(_logitRows * _vocab)];

        if (MtpDepth < 0) Model.Forward(this);
        else Model.ForwardMtp(this, MtpDepth);

        foreach (var s in Segments)
        {
            if (MtpDepth < 0) s.Kv.Advance(s.Tokens);
            else s.Kv.AdvanceMtp(MtpDepth, s.Tokens);
        }
        HasRun = true;
    }

    /// <summary>
    /// Logits [vocab] of row <paramref name="row"/> of <paramref name="segment"/> (the last row when −1); the
    /// segment must have asked for them (its <see cref="LogitsFor"/>). Valid until the next <see cref="Run"/>.
    /// </summary>
    public ReadOnlySpan<float> Logits(int segment, int row = -1)
    {
        var s = RanSegment(segment);
        int index = s.Which switch
        {
            LogitsFor.AllPositions => row < 0 ? s.Tokens - 1 : row < s.Tokens ? row : throw new ArgumentOutOfRangeException(nameof(row)),
            LogitsFor.LastPosition when row < 0 || row == s.Tokens - 1 => 0,
            _ => throw new InvalidOperationException($"segment {segment} did not ask for the logits of row {row} ({s.Which})"),
        };
        return _logits.AsSpan((s.FirstLogitRow + index) * _vocab, _vocab);
    }

    /// <summary>
    /// The final hidden states (after the final norm: what the head and the MTP module read) of a segment's rows
    /// ([tokens, hidden]). Valid until the next <see cref="Run"/>.
    /// </summary>
    public ReadOnlySpan<float> HiddenRows(int segment)
    {
        var s = RanSegment(segment);
        return Scratch.FinalHidden.AsSpan(s.FirstRow * _hidden, s.Tokens * _hidden);
    }

    private Segment RanSegment(int segment)
    {
        if (!HasRun) throw new InvalidOperationException("the batch has not run");
        if ((uint)segment >= (uint)SegmentCount) throw new ArgumentOutOfRangeException(nameof(segment), segment, $"the batch has {SegmentCount} segments");
        return _segments[segment];
    }

    /// <summary>Computes the requested logits from the final hidden states <paramref name="normed"/> [tokens, hidden].</summary>
    internal void Head(Tensors.Tensor head, ReadOnlySpan<float> normed)
    {
        if (_logitRows == 0) return;
        int h = _hidden;
        if (_headInput.Length < _logitRows * h) _headInput = new float[Math.Max(_logitRows * h, _headInput.Length * 2)];
        int row = 0;
        foreach (var s in Segments)
        {
            if (s.Which == LogitsFor.AllPositions)
            {
                normed.Slice(s.FirstRow * h, s.Tokens * h).CopyTo(_headInput.AsSpan(row * h));
                row += s.Tokens;
            }
            else if (s.Which == LogitsFor.LastPosition)
                normed.Slice((s.FirstRow + s.Tokens - 1) * h, h).CopyTo(_headInput.AsSpan(row++ * h));
        }
        Model.Backend.Linear(head, _headInput.AsSpan(0, row * h), _logits.AsSpan(0, row * _vocab), row);
    }
}

/// <summary>Activation buffers of a forward pass for up to a batch's token count, made by the model.</summary>
internal abstract class BatchScratch
{
    /// <summary>The final hidden states [tokens, hidden] of the last pass.</summary>
    public abstract float[] FinalHidden { get; }
}
