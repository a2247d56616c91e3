using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using SharpSeek.Model;

namespace SharpSeek.Inference;

/// <summary>Where and how much the context cache keeps.</summary>
public sealed record ContextCacheOptions
{
    /// <summary>Folder of the on-disk blocks (hits survive a restart); null keeps blocks in memory only.</summary>
    public string? Directory { get; init; }
    /// <summary>Bytes of KV pages the prefix index may keep alive for future hits (least recently used leave first).</summary>
    public long MemoryBytes { get; init; } = 256L << 20;
    /// <summary>Bytes of blocks kept on disk (least recently used leave first).</summary>
    public long DiskBytes { get; init; } = 4L << 30;
    /// <summary>A block unused for this long is deleted.</summary>
    public TimeSpan Expiry { get; init; } = TimeSpan.FromHours(24);
    /// <summary>Blocks waiting to be written to disk at most; a block stored while the queue is full is not persisted.</summary>
    public int DiskQueueBlocks { get; init; } = 1024;
}

/// <summary>
/// DeepSeek-style context caching on whole blocks of <see cref="BlockTokens"/> tokens, which are exactly the pages of
/// the engine's <see cref="KvPagePool"/>. A block's key is a chained SHA-256: the hash of the previous block's key and
/// this block's token ids, rooted in the model's identity and the request's partition, so a key names the model, the
/// partition and every token up to and including the block. Partitions (one per account, or per operator-named group of
/// accounts on the server) never see each other's blocks, in memory or on disk: a hit, its length and its timing depend
/// only on what the same partition sent before. In memory the cache is a prefix index over live pages: a hit hands the very same pages to the new
/// sequence (reference-counted, no copy), and the index keeps up to <see cref="ContextCacheOptions.MemoryBytes"/> of
/// pages alive after their sequences end, giving them back to the pool (least recently used first) when it runs out.
/// When a folder is given, every block is also written there in the background (atomically) and read back into a page
/// on a memory miss, so hits survive a restart. A prompt shorter than one block is never cached; the last prompt token
/// is always computed (its logits start generation).
/// </summary>
/// <remarks>
/// With MTP layers in the pool, a page may also hold the MTP rows of its positions (when its sequence was speculating);
/// the row of its last position was computed with the token after the block, so a page remembers that token. A hit
/// whose pages all hold MTP rows, on a prompt that goes on with that token, lets the new sequence speculate; any other
/// hit still shares the main rows and the sequence decodes without drafts. One engine's scheduler thread uses a cache.
/// </remarks>
public sealed partial class ContextCache : IDisposable
{
    public const int BlockTokens = KvPagePool.PageTokens;

    private readonly ContextCacheOptions _options;
    private readonly Dictionary<BlockKey, LinkedListNode<Entry>> _index = new();
    private readonly LinkedList<Entry> _lru = new();
    private readonly List<int> _found = [];
    private KvPagePool? _pool;
    private long _storedBlocks, _diskReads;

    public ContextCache(ContextCacheOptions? options = null)
    {
        _options = options ?? new ContextCacheOptions();
        if (_options.MemoryBytes < 0) throw new ArgumentOutOfRangeException(nameof(options), _options.MemoryBytes, "the context cache's memory must not be negative");
        if (_options.DiskQueueBlocks < 1) throw new ArgumentOutOfRangeException(nameof(options), _options.DiskQueueBlocks, "the context cache's disk queue must hold at least one block");
        _diskWrites = Channel.CreateBounded<PendingWrite>(new BoundedChannelOptions(_options.DiskQueueBlocks) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
        if (_options.Directory is { } dir)
        {
            System.IO.Directory.CreateDirectory(dir);
            SweepDisk();
        }
        StartDiskWriter();
    }

    public long StoredBlocks => Interlocked.Read(ref _storedBlocks);
    public long DiskReads => Interlocked.Read(ref _diskReads);
    /// <summary>Bytes of pages the index holds (some may be shared with running sequences).</summary>
    public long MemoryBytesUsed => _index.Count * (_pool?.PageBytes ?? 0);

    /// <summary>Bytes of pages the index may keep alive (<see cref="ContextCacheOptions.MemoryBytes"/>).</summary>
    public long MemoryBudget => _options.MemoryBytes;

    /// <summary>Index pages no sequence uses (what the pool can reclaim now).</summary>
    public int EvictablePages
    {
        get
        {
            if (_pool is null) return 0;
            int n = 0;
            foreach (var e in _lru) if (_pool.Owners(e.Page) == 1) n++;
            return n;
        }
    }

    /// <summary>How many leading tokens of a prompt of <paramref name="promptLength"/> a hit can cover at most.</summary>
    public static int CacheablePrefix(int promptLength) => promptLength <= 0 ? 0 : (promptLength - 1) / BlockTokens * BlockTokens;

    /// <summary>Binds the cache to the page pool of the engine that uses it (once), and lets the pool reclaim index pages.</summary>
    public void Attach(KvPagePool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (_pool is not null && _pool != pool) throw new InvalidOperationException("a context cache serves one engine's page pool");
        _pool = pool;
        pool.Reclaim = () => Evict(Math.Max(1, pool.PageCount / 64));
    }

    private KvPagePool Pool => _pool ?? throw new InvalidOperationException("the context cache is not attached to a page pool (the engine attaches it)");

    /// <summary>
    /// Starts the empty <paramref name="kv"/> on the longest cached prefix of <paramref name="tokens"/> and returns its
    /// length in tokens (a multiple of <see cref="BlockTokens"/>, possibly 0).
    /// </summary>
    public int Restore(SequenceKv kv, string modelIdentity, string partition, ReadOnlySpan<int> tokens)
    {
        if (kv.Length != 0) throw new InvalidOperationException("restore needs an empty sequence");
        var pool = Pool;
        if (kv.Pool != pool) throw new ArgumentException("the sequence lives in another page pool", nameof(kv));
        int blocks = CacheablePrefix(tokens.Length) / BlockTokens;
        Span<byte> key = stackalloc byte[32];
        RootKey(modelIdentity, partition, key);
        _found.Clear();
        bool mtpRows = pool.HasMtpLayers;
        int lastNextToken = -1;
        for (int b = 0; b < blocks; b++)
        {
            var blockTokens = tokens.Slice(b * BlockTokens, BlockTokens);
            ChainKey(key, blockTokens, key);
            var entry = FindInMemory(BlockKey.From(key)) ?? ReadFromDisk(BlockKey.From(key), blockTokens);
            if (entry is null) break;
            pool.Retain(entry.Page); // held until adopted, so finding later blocks cannot evict it
            _found.Add(entry.Page);
            mtpRows &= entry.MtpRows;
            lastNextToken = entry.NextToken;
        }
        // The last page's final MTP row was computed for the token after it: a prompt that goes on differently keeps
        // the hit (its main rows are right) but not the MTP rows, so that sequence decodes without drafts.
        if (_found.Count > 0 && lastNextToken != tokens[_found.Count * BlockTokens]) mtpRows = false;
        int restored = _found.Count * BlockTokens;
        if (_found.Count > 0)
        {
            kv.AdoptPrefix(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_found), withMtpRows: mtpRows);
            foreach (int page in _found) pool.Release(page);
        }
        return restored;
    }

    /// <summary>
    /// Indexes every whole block of <paramref name="tokens"/> that <paramref name="kv"/> holds (and, with MTP layers,
    /// whose MTP rows are complete and whose next token is known), from <paramref name="firstUncached"/> on.
    /// </summary>
    public void Store(SequenceKv kv, string modelIdentity, string partition, ReadOnlySpan<int> tokens, int firstUncached)
    {
        var pool = Pool;
        if (kv.Pool != pool) throw new ArgumentException("the sequence lives in another page pool", nameof(kv));
        int limit = Math.Min(tokens.Length, kv.Length);
        int blocks = limit / BlockTokens;
        if (blocks == 0) return;
        Span<byte> key = stackalloc byte[32];
        Span<byte> previous = stackalloc byte[32];
        RootKey(modelIdentity, partition, key);
        for (int b = 0; b < blocks; b++)
        {
            var blockTokens = tokens.Slice(b * BlockTokens, BlockTokens);
            key.CopyTo(previous);
            ChainKey(key, blockTokens, key);
            if ((b + 1) * BlockTokens <= firstUncached) continue;
            var blockKey = BlockKey.From(key);
            int end = (b + 1) * BlockTokens;
            int nextToken = end < tokens.Length ? tokens[end] : -1;
            // A page's MTP rows count when every position has one and the last one's next token is known.
            bool mtpRows = pool.HasMtpLayers && end <= kv.MtpLength(0) && nextToken >= 0;
            if (_index.TryGetValue(blockKey, out var known))
            {
                Touch(known);
                if (known.Value.MtpRows || !mtpRows) continue;
                Remove(known); // a copy with MTP rows replaces one without
            }
            int page = kv.Pages[b];
            pool.Retain(page);
            var entry = new Entry(blockKey, page, nextToken, mtpRows);
            _index[blockKey] = _lru.AddFirst(entry);
            Interlocked.Increment(ref _storedBlocks);
            if (_options.Directory is not null) QueueDiskWrite(entry, pool.Bytes(page), blockTokens, previous);
        }
        TrimToBudget();
    }

    /// <summary>Gives back up to <paramref name="pages"/> index pages that no sequence uses, least recently used first.</summary>
    public int Evict(int pages)
    {
        var pool = Pool;
        int freed = 0;
        for (var node = _lru.Last; node is not null && freed < pages;)
        {
            var previous = node.Previous;
            if (pool.Owners(node.Value.Page) == 1)
            {
                Remove(node);
                freed++;
            }
            node = previous;
        }
        return freed;
    }

    private void TrimToBudget()
    {
        long budget = _options.MemoryBytes / Pool.PageBytes;
        for (var node = _lru.Last; node is not null && _index.Count > budget;)
        {
            var previous = node.Previous;
            Remove(node);
            node = previous;
        }
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _lru.Remove(node);
        _index.Remove(node.Value.Key);
        Pool.Release(node.Value.Page);
    }

    private Entry? FindInMemory(BlockKey key)
    {
        if (!_index.TryGetValue(key, out var node)) return null;
        Touch(node);
        return node.Value;
    }

    private void Touch(LinkedListNode<Entry> node)
    {
        _lru.Remove(node);
        _lru.AddFirst(node);
    }

    /// <summary>Registers a page filled from disk (the index holds its only reference).</summary>
    private Entry Adopt(BlockKey key, int page, int nextToken, bool mtpRows)
    {
        var entry = new Entry(key, page, nextToken, mtpRows);
        _index[key] = _lru.AddFirst(entry);
        return entry;
    }

    private static void RootKey(string modelIdentity, string partition, Span<byte> key)
    {
        var bytes = Encoding.UTF8.GetBytes("sharpseek-context-cache-v3\0" + modelIdentity + "\0" + partition);
        SHA256.HashData(bytes, key);
    }

    private static void ChainKey(ReadOnlySpan<byte> previous, ReadOnlySpan<int> tokens, Span<byte> key)
    {
        Span<byte> input = stackalloc byte[32 + BlockTokens * 4];
        previous.CopyTo(input);
        for (int i = 0; i < tokens.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(input.Slice(32 + i * 4), tokens[i]);
        SHA256.HashData(input, key);
    }

    public void Dispose() => StopDiskWriter();

    /// <param name="NextToken">The token after the block (its last MTP row was computed with it), or −1.</param>
    /// <param name="MtpRows">The page holds valid MTP rows for every position.</param>
    private sealed record Entry(BlockKey Key, int Page, int NextToken, bool MtpRows);

    private readonly record struct BlockKey(ulong A, ulong B, ulong C, ulong D)
    {
        public static BlockKey From(ReadOnlySpan<byte> k) => new(
            BinaryPrimitives.ReadUInt64LittleEndian(k), BinaryPrimitives.ReadUInt64LittleEndian(k[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(k[16..]), BinaryPrimitives.ReadUInt64LittleEndian(k[24..]));

        public string ToHex()
        {
            Span<byte> b = stackalloc byte[32];
            BinaryPrimitives.WriteUInt64LittleEndian(b, A);
            BinaryPrimitives.WriteUInt64LittleEndian(b[8..], B);
            BinaryPrimitives.WriteUInt64LittleEndian(b[16..], C);
            BinaryPrimitives.WriteUInt64LittleEndian(b[24..], D);
            return Convert.ToHexStringLower(b);
        }
    }
}
