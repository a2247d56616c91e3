using System.Buffers.Binary;
using System.Runtime.InteropServices;
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
    /// <summary>Bytes of blocks kept in RAM (least recently used leave first).</summary>
    public long MemoryBytes { get; init; } = 256L << 20;
    /// <summary>Bytes of blocks kept on disk (least recently used leave first).</summary>
    public long DiskBytes { get; init; } = 4L << 30;
    /// <summary>A block unused for this long is deleted.</summary>
    public TimeSpan Expiry { get; init; } = TimeSpan.FromHours(24);
}

/// <summary>
/// DeepSeek-style context caching on whole blocks of <see cref="BlockTokens"/> tokens. A block's key is a chained
/// SHA-256: the hash of the previous block's key and this block's token ids, rooted in the model's identity, so a key
/// names the model and every token up to and including the block. The value is the block's KV-cache rows over every
/// main layer (for absorbed MLA: the latent c and rotated k_pe per token). Blocks live in a RAM LRU and, when a folder
/// is given, in files written in the background (atomically), so hits survive a restart. A prompt shorter than one
/// block is never cached; the last prompt token is always computed (its logits start generation).
/// </summary>
public sealed class ContextCache : IDisposable
{
    public const int BlockTokens = 64;
    private const uint FileMagic = 0x564B5353; // "SSKV"
    private const int FileVersion = 1;
    private const int HeaderBytes = 4 + 4 + 4 + 4 + 4 + 4 + 32 + BlockTokens * 4;

    private readonly ContextCacheOptions _options;
    private readonly Dictionary<BlockKey, LinkedListNode<Block>> _memory = new();
    private readonly LinkedList<Block> _lru = new();
    private readonly object _gate = new();
    private readonly Channel<Block> _diskWrites = Channel.CreateBounded<Block>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Task _diskWriter;
    private long _memoryBytes;
    private long _hitTokens, _missTokens, _storedBlocks, _diskReads;
    private int _pendingDiskWrites;

    public ContextCache(ContextCacheOptions? options = null)
    {
        _options = options ?? new ContextCacheOptions();
        if (_options.Directory is { } dir)
        {
            System.IO.Directory.CreateDirectory(dir);
            SweepDisk();
        }
        _diskWriter = _options.Directory is null ? Task.CompletedTask : Task.Run(WriteBlocksAsync);
    }

    public long HitTokens => Interlocked.Read(ref _hitTokens);
    public long MissTokens => Interlocked.Read(ref _missTokens);
    public long StoredBlocks => Interlocked.Read(ref _storedBlocks);
    public long DiskReads => Interlocked.Read(ref _diskReads);
    public long MemoryBytesUsed => Interlocked.Read(ref _memoryBytes);

    /// <summary>How many leading tokens of a prompt of <paramref name="promptLength"/> a hit can cover at most.</summary>
    public static int CacheablePrefix(int promptLength) => promptLength <= 0 ? 0 : (promptLength - 1) / BlockTokens * BlockTokens;

    /// <summary>
    /// Restores the longest cached prefix of <paramref name="prompt"/> into the empty <paramref name="session"/>
    /// and returns its length in tokens (a multiple of <see cref="BlockTokens"/>, possibly 0).
    /// </summary>
    public int Restore(InferenceSession session, string modelIdentity, ReadOnlySpan<int> prompt)
    {
        if (session.Length != 0) throw new InvalidOperationException("restore needs an empty session");
        int blocks = CacheablePrefix(prompt.Length) / BlockTokens;
        var layout = BlockLayout.Of(session.Cache);
        Span<byte> key = stackalloc byte[32];
        RootKey(modelIdentity, key);
        int restored = 0;
        for (int b = 0; b < blocks; b++)
        {
            var tokens = prompt.Slice(b * BlockTokens, BlockTokens);
            ChainKey(key, tokens, key);
            var blockKey = BlockKey.From(key);
            float[]? rows = FindInMemory(blockKey, layout) ?? ReadFromDisk(blockKey, tokens, layout);
            if (rows is null) break;
            layout.CopyIn(rows, session.Cache, b * BlockTokens);
            restored += BlockTokens;
        }
        if (restored > 0) session.AdoptCachedPrefix(restored);
        Interlocked.Add(ref _hitTokens, restored);
        Interlocked.Add(ref _missTokens, prompt.Length - restored);
        return restored;
    }

    /// <summary>
    /// Stores every whole block of <paramref name="tokens"/> (all already in <paramref name="session"/>'s cache) from
    /// <paramref name="firstUncached"/> on; earlier blocks were restored and are known.
    /// </summary>
    public void Store(InferenceSession session, string modelIdentity, ReadOnlySpan<int> tokens, int firstUncached)
    {
        int blocks = Math.Min(tokens.Length, session.Length) / BlockTokens;
        if (blocks == 0) return;
        var layout = BlockLayout.Of(session.Cache);
        Span<byte> key = stackalloc byte[32];
        Span<byte> previous = stackalloc byte[32];
        RootKey(modelIdentity, key);
        for (int b = 0; b < blocks; b++)
        {
            var blockTokens = tokens.Slice(b * BlockTokens, BlockTokens);
            key.CopyTo(previous);
            ChainKey(key, blockTokens, key);
            if ((b + 1) * BlockTokens <= firstUncached) continue;
            var blockKey = BlockKey.From(key);
            lock (_gate)
                if (_memory.ContainsKey(blockKey)) continue;
            var rows = layout.CopyOut(session.Cache, b * BlockTokens);
            var block = new Block(blockKey, rows, blockTokens.ToArray(), previous.ToArray(), layout);
            AddToMemory(block);
            Interlocked.Increment(ref _storedBlocks);
            if (_options.Directory is not null && _diskWrites.Writer.TryWrite(block)) Interlocked.Increment(ref _pendingDiskWrites);
        }
    }

    /// <summary>Waits until the blocks queued for disk are written (tests, shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        while (Volatile.Read(ref _pendingDiskWrites) > 0)
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
    }

    private static void RootKey(string modelIdentity, Span<byte> key)
    {
        var bytes = Encoding.UTF8.GetBytes("sharpseek-context-cache-v1\0" + modelIdentity);
        SHA256.HashData(bytes, key);
    }

    private static void ChainKey(ReadOnlySpan<byte> previous, ReadOnlySpan<int> tokens, Span<byte> key)
    {
        Span<byte> input = stackalloc byte[32 + BlockTokens * 4];
        previous.CopyTo(input);
        for (int i = 0; i < tokens.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(input.Slice(32 + i * 4), tokens[i]);
        SHA256.HashData(input, key);
    }

    private float[]? FindInMemory(BlockKey key, BlockLayout layout)
    {
        lock (_gate)
        {
            if (!_memory.TryGetValue(key, out var node) || node.Value.Layout != layout) return null;
            _lru.Remove(node);
            _lru.AddFirst(node);
            return node.Value.Rows;
        }
    }

    private void AddToMemory(Block block)
    {
        lock (_gate)
        {
            if (_memory.ContainsKey(block.Key)) return;
            _memory[block.Key] = _lru.AddFirst(block);
            _memoryBytes += block.Bytes;
            while (_memoryBytes > _options.MemoryBytes && _lru.Last is { } last)
            {
                _lru.RemoveLast();
                _memory.Remove(last.Value.Key);
                _memoryBytes -= last.Value.Bytes;
            }
        }
    }

    private string PathOf(BlockKey key)
    {
        string hex = key.ToHex();
        return Path.Combine(_options.Directory!, hex[..2], hex + ".kvb");
    }

    private float[]? ReadFromDisk(BlockKey key, ReadOnlySpan<int> tokens, BlockLayout layout)
    {
        if (_options.Directory is null) return null;
        string path = PathOf(key);
        try
        {
            if (!File.Exists(path)) return null;
            byte[] data = File.ReadAllBytes(path);
            if (data.Length != HeaderBytes + layout.Floats * 4) return null;
            var header = data.AsSpan(0, HeaderBytes);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != FileMagic
                || BinaryPrimitives.ReadInt32LittleEndian(header[4..]) != FileVersion
                || BinaryPrimitives.ReadInt32LittleEndian(header[8..]) != layout.Layers
                || BinaryPrimitives.ReadInt32LittleEndian(header[12..]) != layout.KeyWidth
                || BinaryPrimitives.ReadInt32LittleEndian(header[16..]) != layout.ValueWidth
                || BinaryPrimitives.ReadInt32LittleEndian(header[20..]) != BlockTokens)
                return null;
            var storedTokens = MemoryMarshal.Cast<byte, int>(header.Slice(24 + 32, BlockTokens * 4));
            if (!BitConverter.IsLittleEndian || !storedTokens.SequenceEqual(tokens)) return null;
            var rows = MemoryMarshal.Cast<byte, float>(data.AsSpan(HeaderBytes)).ToArray();
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
            Interlocked.Increment(ref _diskReads);
            AddToMemory(new Block(key, rows, tokens.ToArray(), new byte[32], layout));
            return rows;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private async Task WriteBlocksAsync()
    {
        int sinceSweep = 0;
        await foreach (var block in _diskWrites.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                WriteToDisk(block);
                if (++sinceSweep >= 256) { sinceSweep = 0; SweepDisk(); }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            finally { Interlocked.Decrement(ref _pendingDiskWrites); }
        }
    }

    private void WriteToDisk(Block block)
    {
        string path = PathOf(block.Key);
        if (File.Exists(path)) return;
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var header = new byte[HeaderBytes];
        var h = header.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(h, FileMagic);
        BinaryPrimitives.WriteInt32LittleEndian(h[4..], FileVersion);
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], block.Layout.Layers);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], block.Layout.KeyWidth);
        BinaryPrimitives.WriteInt32LittleEndian(h[16..], block.Layout.ValueWidth);
        BinaryPrimitives.WriteInt32LittleEndian(h[20..], BlockTokens);
        block.PreviousKey.CopyTo(h.Slice(24, 32));
        for (int i = 0; i < BlockTokens; i++) BinaryPrimitives.WriteInt32LittleEndian(h.Slice(24 + 32 + i * 4), block.Tokens[i]);
        string temp = path + "." + Environment.ProcessId + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            file.Write(header);
            file.Write(MemoryMarshal.AsBytes(block.Rows.AsSpan()));
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Deletes expired blocks and, past the disk budget, the least recently used ones.</summary>
    private void SweepDisk()
    {
        var dir = new DirectoryInfo(_options.Directory!);
        var files = dir.EnumerateFiles("*", SearchOption.AllDirectories).ToList();
        var cutoff = DateTime.UtcNow - _options.Expiry;
        long total = 0;
        var live = new List<FileInfo>();
        foreach (var f in files)
        {
            bool stale = f.Name.EndsWith(".tmp", StringComparison.Ordinal) ? f.LastWriteTimeUtc < DateTime.UtcNow.AddMinutes(-10) : f.LastWriteTimeUtc < cutoff;
            if (stale) { TryDelete(f); continue; }
            if (f.Extension == ".kvb") { live.Add(f); total += f.Length; }
        }
        if (total <= _options.DiskBytes) return;
        foreach (var f in live.OrderBy(f => f.LastWriteTimeUtc))
        {
            if (total <= _options.DiskBytes) break;
            total -= f.Length;
            TryDelete(f);
        }
    }

    private static void TryDelete(FileInfo f)
    {
        try { f.Delete(); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public void Dispose()
    {
        _diskWrites.Writer.TryComplete();
        try { _diskWriter.Wait(TimeSpan.FromSeconds(30)); } catch (AggregateException) { }
    }

    private sealed record Block(BlockKey Key, float[] Rows, int[] Tokens, byte[] PreviousKey, BlockLayout Layout)
    {
        public long Bytes => (long)Rows.Length * sizeof(float) + 128;
    }

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

    /// <summary>Shape of one block's rows: per layer, 64 key rows then 64 value rows (when values are separate).</summary>
    private readonly record struct BlockLayout(int Layers, int KeyWidth, int ValueWidth)
    {
        public static BlockLayout Of(KvCache cache) => new(cache.Layers, cache.KeyRowWidth, cache.ValueRowWidth);

        public int Floats => Layers * BlockTokens * (KeyWidth + ValueWidth);

        public float[] CopyOut(KvCache cache, int firstPosition)
        {
            var rows = new float[Floats];
            int at = 0;
            for (int l = 0; l < Layers; l++)
            {
                cache.Keys(l).Slice(firstPosition * KeyWidth, BlockTokens * KeyWidth).CopyTo(rows.AsSpan(at));
                at += BlockTokens * KeyWidth;
                if (ValueWidth > 0)
                {
                    cache.Values(l).Slice(firstPosition * ValueWidth, BlockTokens * ValueWidth).CopyTo(rows.AsSpan(at));
                    at += BlockTokens * ValueWidth;
                }
            }
            return rows;
        }

        public void CopyIn(float[] rows, KvCache cache, int firstPosition)
        {
            int at = 0;
            for (int l = 0; l < Layers; l++)
            {
                rows.AsSpan(at, BlockTokens * KeyWidth).CopyTo(cache.Keys(l).Slice(firstPosition * KeyWidth));
                at += BlockTokens * KeyWidth;
                if (ValueWidth > 0)
                {
                    rows.AsSpan(at, BlockTokens * ValueWidth).CopyTo(cache.Values(l).Slice(firstPosition * ValueWidth));
                    at += BlockTokens * ValueWidth;
                }
            }
        }
    }
}
