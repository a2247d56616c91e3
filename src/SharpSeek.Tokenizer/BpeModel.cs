using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace SharpSeek.Tokenizer;

/// <summary>
/// Byte-level BPE over one pre-tokenized piece: UTF-8 bytes → one symbol per byte → repeatedly merge the adjacent
/// pair with the lowest merge rank (leftmost on ties) → ids. Results for short pieces are cached, because natural
/// text repeats the same words; the cache is bounded by entry count rather than evicting, which keeps lookups
/// lock-free and is enough for a steady state vocabulary of words.
/// </summary>
internal sealed class BpeModel
{
    /// <summary>
    /// Pieces longer than this are not cached: long pieces (CJK runs, long identifiers) rarely repeat, and caching
    /// them would fill memory with single-use entries.
    /// </summary>
    private const int MaxCachedPieceLength = 48;

    /// <summary>Cache entries kept (first come, never evicted): bounds memory to a few tens of MB.</summary>
    private const int MaxCacheEntries = 1 << 17;

    private readonly int[] _byteToId;
    private readonly BpeMergeTable _merges;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>>? _wholeWordLookup;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    // ConcurrentDictionary.Count takes every lock; an approximate counter of our own is enough for the bound.
    private int _cacheCount;

    /// <summary>
    /// Pieces with more bytes than this use the heap-based merge loop (O(n log n)); shorter ones the simple scan,
    /// which is faster for pieces of a few bytes (measured: equal at about 12 bytes of ASCII, heap far ahead on CJK).
    /// </summary>
    internal const int DefaultHeapThreshold = 12;

    /// <param name="byteToId">Id of the single-byte token for each byte value, -1 where the vocab lacks it.</param>
    /// <param name="merges">The merge rules.</param>
    /// <param name="wholeWordVocabulary">
    /// When set (tokenizer.json <c>ignore_merges</c>, as in Llama 3), a piece that is itself a vocab entry is emitted
    /// as that token without running merges.
    /// </param>
    public BpeModel(int[] byteToId, BpeMergeTable merges, Dictionary<string, int>? wholeWordVocabulary)
    {
        _byteToId = byteToId;
        _merges = merges;
        _wholeWordLookup = wholeWordVocabulary?.GetAlternateLookup<ReadOnlySpan<char>>();
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public void Encode(ReadOnlySpan<char> piece, List<int> output)
    {
        bool cacheable = piece.Length <= MaxCachedPieceLength;
        if (cacheable && _cacheLookup.TryGetValue(piece, out int[]? cached))
        {
            output.AddRange(cached);
            return;
        }

        int maxBytes = Encoding.UTF8.GetMaxByteCount(piece.Length);
        byte[]? rentedBytes = null;
        Span<byte> bytes = maxBytes <= 512 ? stackalloc byte[512] : (rentedBytes = ArrayPool<byte>.Shared.Rent(maxBytes));
        // Lone surrogates become U+FFFD (EF BF BD), exactly what the reference's TextEncoder does.
        int n = Encoding.UTF8.GetBytes(piece, bytes);
        bytes = bytes[..n];

        int[]? rentedSymbols = null;
        Span<int> symbols = n <= 256 ? stackalloc int[256] : (rentedSymbols = ArrayPool<int>.Shared.Rent(n));
        int count = EncodeBytes(bytes, symbols, DefaultHeapThreshold);
        ReadOnlySpan<int> result = symbols[..count];
        output.AddRange(result);

        if (cacheable && Volatile.Read(ref _cacheCount) < MaxCacheEntries && _cache.TryAdd(piece.ToString(), result.ToArray()))
            Interlocked.Increment(ref _cacheCount);

        if (rentedSymbols != null)
            ArrayPool<int>.Shared.Return(rentedSymbols);
        if (rentedBytes != null)
            ArrayPool<byte>.Shared.Return(rentedBytes);
    }

    /// <summary>Runs BPE over <paramref name="bytes"/>, writing the ids to <paramref name="symbols"/>; returns their count.</summary>
    /// <param name="bytes">The piece's UTF-8 bytes.</param>
    /// <param name="symbols">Room for at least one id per byte.</param>
    /// <param name="heapThreshold">Longest piece merged by the scan loop (tests force either loop with it).</param>
    internal int EncodeBytes(ReadOnlySpan<byte> bytes, Span<int> symbols, int heapThreshold)
    {
        int n = bytes.Length;
        if (n == 0)
            return 0;
        if (_wholeWordLookup is { } lookup && TryWholeWord(lookup, bytes, out int wholeId))
        {
            symbols[0] = wholeId;
            return 1;
        }
        for (int i = 0; i < n; i++)
        {
            int id = _byteToId[bytes[i]];
            if (id < 0)
                throw new TextNotEncodableException(
                    $"byte 0x{bytes[i]:X2} has no single-byte token in this vocabulary, so the text cannot be encoded");
            symbols[i] = id;
        }
        if (n == 1)
            return 1;
        return n <= heapThreshold ? MergeByScan(symbols, n) : MergeByHeap(symbols, n);
    }

    private static bool TryWholeWord(Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> lookup, ReadOnlySpan<byte> bytes, out int id)
    {
        char[]? rented = null;
        Span<char> chars = bytes.Length <= 256 ? stackalloc char[256] : (rented = ArrayPool<char>.Shared.Rent(bytes.Length));
        for (int i = 0; i < bytes.Length; i++)
            chars[i] = ByteLevelAlphabet.ToChar(bytes[i]);
        bool found = lookup.TryGetValue(chars[..bytes.Length], out id);
        if (rented != null)
            ArrayPool<char>.Shared.Return(rented);
        return found;
    }

    /// <summary>
    /// Quadratic merge loop for short pieces: keep the rank of every adjacent pair, merge the minimum (the first one
    /// on ties), then refresh only the two pairs touching the merged symbol.
    /// </summary>
    private int MergeByScan(Span<int> symbols, int n)
    {
        Span<int> ranks = stackalloc int[n];
        for (int i = 0; i + 1 < n; i++)
            ranks[i] = PairRank(symbols[i], symbols[i + 1]);

        while (n > 1)
        {
            int best = int.MaxValue;
            int k = -1;
            for (int i = 0; i + 1 < n; i++)
            {
                if (ranks[i] < best)
                {
                    best = ranks[i];
                    k = i;
                }
            }
            if (k < 0)
                break;

            symbols[k] = _merges.Merged(best);
            // Remove symbol k+1 and pair k+1; pairs after it shift down by one.
            symbols[(k + 2)..n].CopyTo(symbols[(k + 1)..]);
            if (k + 2 < n - 1)
                ranks[(k + 2)..(n - 1)].CopyTo(ranks[(k + 1)..]);
            n--;
            if (k > 0)
                ranks[k - 1] = PairRank(symbols[k - 1], symbols[k]);
            if (k + 1 < n)
                ranks[k] = PairRank(symbols[k], symbols[k + 1]);
        }
        return n;
    }

    private int PairRank(int left, int right)
    {
        int rank = _merges.Rank(left, right);
        return rank >= 0 ? rank : int.MaxValue;
    }

    /// <summary>
    /// Heap-driven merge loop for long pieces (long whitespace or letter runs, CJK runs). Symbols form a linked list
    /// over the original byte positions. A heap key is (rank &lt;&lt; 32 | position), so popping gives the lowest rank
    /// and, among equal ranks, the leftmost pair — the same order as the scan. Entries are never removed: one is
    /// stale when its position was merged away or now starts a different pair, which <c>pairRank</c> (the rank of
    /// the pair currently starting at each position) reveals.
    /// </summary>
    private int MergeByHeap(Span<int> symbols, int n)
    {
        int[] next = ArrayPool<int>.Shared.Rent(n);
        int[] prev = ArrayPool<int>.Shared.Rent(n);
        int[] pairRank = ArrayPool<int>.Shared.Rent(n);
        long[] heap = ArrayPool<long>.Shared.Rent(3 * n);
        try
        {
            int heapCount = 0;
            for (int i = 0; i < n; i++)
            {
                next[i] = i + 1 < n ? i + 1 : -1;
                prev[i] = i - 1;
                pairRank[i] = -1;
            }
            for (int i = 0; i + 1 < n; i++)
                Consider(symbols, pairRank, heap, ref heapCount, i, i + 1);

            while (heapCount > 0)
            {
                long top = PopMin(heap, ref heapCount);
                int p = (int)(uint)top;
                int rank = (int)(top >> 32);
                if (pairRank[p] != rank)
                    continue; // stale: p was merged into its left neighbour, or now starts another pair
                int q = next[p];
                symbols[p] = _merges.Merged(rank);
                pairRank[q] = -1;
                next[p] = next[q];
                if (next[q] >= 0)
                    prev[next[q]] = p;
                pairRank[p] = -1;
                if (prev[p] >= 0)
                    Consider(symbols, pairRank, heap, ref heapCount, prev[p], p);
                if (next[p] >= 0)
                    Consider(symbols, pairRank, heap, ref heapCount, p, next[p]);
            }

            int count = 0;
            for (int i = 0; i >= 0; i = next[i])
                symbols[count++] = symbols[i];
            return count;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(next);
            ArrayPool<int>.Shared.Return(prev);
            ArrayPool<int>.Shared.Return(pairRank);
            ArrayPool<long>.Shared.Return(heap);
        }
    }

    /// <summary>Records the pair starting at <paramref name="left"/> and queues it when it is a merge rule.</summary>
    private void Consider(Span<int> symbols, int[] pairRank, long[] heap, ref int heapCount, int left, int right)
    {
        int rank = _merges.Rank(symbols[left], symbols[right]);
        if (rank >= 0)
        {
            pairRank[left] = rank;
            Push(heap, ref heapCount, ((long)rank << 32) | (uint)left);
        }
        else
        {
            pairRank[left] = -1;
        }
    }

    // A plain binary min-heap over longs: no per-call allocation, no comparer indirection. At most one entry is
    // pushed per pair considered (n - 1 initially, two per merge), so 3n slots suffice.
    private static void Push(long[] heap, ref int count, long value)
    {
        int i = count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (heap[parent] <= value)
                break;
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = value;
    }

    private static long PopMin(long[] heap, ref int count)
    {
        long top = heap[0];
        long last = heap[--count];
        int i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= count)
                break;
            if (child + 1 < count && heap[child + 1] < heap[child])
                child++;
            if (heap[child] >= last)
                break;
            heap[i] = heap[child];
            i = child;
        }
        if (count > 0)
            heap[i] = last;
        return top;
    }
}
