namespace SharpSeek.Model;

/// <summary>
/// One sequence's cache: its page table (page i holds positions 64·i … 64·i + 63 of every cache layer) and how many
/// positions the main blocks (<see cref="Length"/>) and each MTP depth (<see cref="MtpLength"/>) have written.
/// </summary>
/// <remarks>
/// Pages at the front may be shared with other sequences (an adopted prefix); they are never written through this
/// table: <see cref="TryPrepare"/> gives the sequence its own copy of any shared page it is about to write into.
/// </remarks>
public sealed class SequenceKv : IDisposable
{
    private int[] _pages = new int[8];
    private int _pageCount;
    private readonly int[] _mtpLength;

    public SequenceKv(KvPagePool pool)
    {
        Pool = pool ?? throw new ArgumentNullException(nameof(pool));
        _mtpLength = new int[pool.HasMtpLayers ? pool.Model.MtpDepth : 0];
    }

    public KvPagePool Pool { get; }
    /// <summary>Positions the main blocks have cached.</summary>
    public int Length { get; private set; }
    /// <summary>Positions MTP depth <paramref name="depth"/> has cached (always ≤ <see cref="Length"/>).</summary>
    public int MtpLength(int depth = 0) => _mtpLength[depth];
    public int MtpDepth => _mtpLength.Length;
    public ReadOnlySpan<int> Pages => _pages.AsSpan(0, _pageCount);
    /// <summary>Positions the current pages can hold.</summary>
    public int Capacity => _pageCount * KvPagePool.PageTokens;

    /// <summary>
    /// Makes positions [<paramref name="from"/>, <paramref name="to"/>) writable: appends pages up to
    /// <paramref name="to"/> and replaces any shared page in the range by a private copy. False when the pool ran out
    /// (the pages obtained so far stay, so a retry after freeing memory continues from there).
    /// </summary>
    public bool TryPrepare(int from, int to)
    {
        if (from < 0 || to < from) throw new ArgumentOutOfRangeException(nameof(to), $"positions [{from}, {to}) are not a range");
        if (from == to) return true;
        int lastPage = (to - 1) / KvPagePool.PageTokens;
        while (_pageCount <= lastPage)
        {
            int page = Pool.TryRent();
            if (page < 0) return false;
            if (_pageCount == _pages.Length) Array.Resize(ref _pages, _pages.Length * 2);
            _pages[_pageCount++] = page;
        }
        for (int i = from / KvPagePool.PageTokens; i <= lastPage; i++)
        {
            int shared = _pages[i];
            if (Pool.Owners(shared) == 1) continue;
            int own = Pool.TryRent();
            if (own < 0) return false;
            Pool.Bytes(shared).CopyTo(Pool.Bytes(own));
            Pool.Release(shared);
            _pages[i] = own;
        }
        return true;
    }

    /// <summary>
    /// Starts an empty sequence on <paramref name="pages"/> (whole pages of a known prefix, e.g. from the prefix index),
    /// sharing them: each gains this sequence as an owner. <paramref name="withMtpRows"/> says the pages also hold
    /// valid MTP rows for every position.
    /// </summary>
    public void AdoptPrefix(ReadOnlySpan<int> pages, bool withMtpRows)
    {
        if (Length != 0 || _pageCount != 0) throw new InvalidOperationException("a prefix can only be adopted by an empty sequence");
        foreach (int p in pages) Pool.Retain(p);
        if (_pages.Length < pages.Length) _pages = new int[Math.Max(pages.Length, _pages.Length * 2)];
        pages.CopyTo(_pages);
        _pageCount = pages.Length;
        Length = pages.Length * KvPagePool.PageTokens;
        for (int d = 0; d < _mtpLength.Length; d++) _mtpLength[d] = withMtpRows ? Length : 0;
    }

    /// <summary>Forgets every position from <paramref name="length"/> on and returns the pages no longer needed.</summary>
    public void Truncate(int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "length must not be negative");
        Length = Math.Min(Length, length);
        for (int d = 0; d < _mtpLength.Length; d++) _mtpLength[d] = Math.Min(_mtpLength[d], Length);
        int keep = (Length + KvPagePool.PageTokens - 1) / KvPagePool.PageTokens;
        while (_pageCount > keep) Pool.Release(_pages[--_pageCount]);
    }

    /// <summary>Empties the sequence and releases all its pages.</summary>
    public void Reset() => Truncate(0);

    /// <summary>Records that the main blocks wrote <paramref name="count"/> more positions (the forward pass calls this).</summary>
    internal void Advance(int count)
    {
        Length += count;
        if (Length > Capacity) throw new InvalidOperationException($"sequence advanced to {Length} positions past its {Capacity} prepared ones");
    }

    internal void AdvanceMtp(int depth, int count)
    {
        _mtpLength[depth] += count;
        if (_mtpLength[depth] > Length) throw new InvalidOperationException($"MTP depth {depth} advanced to {_mtpLength[depth]} past the main length {Length}");
    }

    public void Dispose() => Reset();
}
