using SharpSeek.Formats;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Threading.Channels;

namespace SharpSeek.Inference;

// The disk tier: one file per block, named by its key, holding the block's tokens, its page bytes and a SHA-256 of
// both. Files are written by a background task (temp file, fsync, then rename, so a reader never sees half a block)
// and read back into a fresh page on a memory miss. A file whose layout does not match the pool (another model shape,
// element type or MTP setting) is ignored; a file whose checksum or length is wrong (a torn or damaged block) is
// deleted and counts as a miss, so the block is computed and written again. When the write queue is full a block is
// not queued at all (it stays in memory and is simply not persisted), so waiting for the queue to drain always ends.
public sealed partial class ContextCache
{
    internal const uint FileMagic = 0x564B5353; // "SSKV"
    internal const int FileVersion = 4;
    internal const int BlockFileChecksumOffset = 9 * 4 + 32 + BlockTokens * 4;
    internal const int BlockFileHeaderBytes = BlockFileChecksumOffset + 32;

    // Wait mode makes TryWrite report a full queue (false) instead of dropping silently behind a true, which left the
    // pending count above zero forever and made a flush (and so shutdown) wait without end.
    private readonly Channel<PendingWrite> _diskWrites;
    private Task _diskWriter = Task.CompletedTask;
    private int _pendingDiskWrites;
    private long _droppedDiskWrites, _corruptBlocks;

    /// <summary>Blocks not persisted because the disk write queue was full.</summary>
    public long DroppedDiskWrites => Interlocked.Read(ref _droppedDiskWrites);
    /// <summary>Block files found damaged (wrong checksum or length) and deleted.</summary>
    public long CorruptBlocks => Interlocked.Read(ref _corruptBlocks);

    private sealed record PendingWrite(BlockKey Key, byte[] Header, byte[] Page);

    private void StartDiskWriter()
    {
        if (_options.Directory is not null) _diskWriter = Task.Run(WriteBlocksAsync);
    }

    private void StopDiskWriter()
    {
        _diskWrites.Writer.TryComplete();
        try { _diskWriter.Wait(TimeSpan.FromSeconds(30)); } catch (AggregateException) { }
    }

    /// <summary>Waits until the blocks queued for disk are written (tests, shutdown), or the writer has stopped.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        while (Volatile.Read(ref _pendingDiskWrites) > 0 && !_diskWriter.IsCompleted)
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
    }

    private string PathOf(BlockKey key)
    {
        string hex = key.ToHex();
        return Path.Combine(_options.Directory!, hex[..2], hex + ".kvb");
    }

    private void WriteHeader(Span<byte> h, int nextToken, bool mtpRows, ReadOnlySpan<byte> previousKey, ReadOnlySpan<int> tokens)
    {
        var pool = Pool;
        BinaryPrimitives.WriteUInt32LittleEndian(h, FileMagic);
        BinaryPrimitives.WriteInt32LittleEndian(h[4..], FileVersion);
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], pool.Layers);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], pool.KeyRowElements);
        BinaryPrimitives.WriteInt32LittleEndian(h[16..], pool.ValueRowElements);
        BinaryPrimitives.WriteInt32LittleEndian(h[20..], BlockTokens);
        BinaryPrimitives.WriteInt32LittleEndian(h[24..], (int)pool.Type);
        BinaryPrimitives.WriteInt32LittleEndian(h[28..], nextToken);
        BinaryPrimitives.WriteInt32LittleEndian(h[32..], mtpRows ? 1 : 0);
        previousKey.CopyTo(h.Slice(36, 32));
        for (int i = 0; i < BlockTokens; i++) BinaryPrimitives.WriteInt32LittleEndian(h.Slice(68 + i * 4), tokens[i]);
    }

    /// <summary>Copies the page now (it may change once its sequences end) and hands the write to the background task.</summary>
    private void QueueDiskWrite(Entry entry, ReadOnlySpan<byte> page, ReadOnlySpan<int> tokens, ReadOnlySpan<byte> previousKey)
    {
        var header = new byte[BlockFileHeaderBytes];
        WriteHeader(header, entry.NextToken, entry.MtpRows, previousKey, tokens);
        // Counted before the write so the writer can never decrement first.
        Interlocked.Increment(ref _pendingDiskWrites);
        if (!_diskWrites.Writer.TryWrite(new PendingWrite(entry.Key, header, page.ToArray())))
        {
            Interlocked.Decrement(ref _pendingDiskWrites);
            Interlocked.Increment(ref _droppedDiskWrites);
        }
    }

    /// <summary>Reads a block's file into a fresh page and indexes it; null when absent, unreadable, of another layout, or no page is free.</summary>
    private Entry? ReadFromDisk(BlockKey key, ReadOnlySpan<int> tokens)
    {
        if (_options.Directory is null) return null;
        var pool = Pool;
        string path = PathOf(key);
        try
        {
            if (!File.Exists(path)) return null;
            byte[] data = File.ReadAllBytes(path);
            var layout = new BlockFileLayout(pool.Layers, pool.KeyRowElements, pool.ValueRowElements, (int)pool.Type, pool.PageBytes);
            switch (InspectBlockFile(data, layout, tokens, out int nextToken, out bool mtpRows))
            {
                case BlockFileVerdict.Damaged: return Corrupt(path);
                case BlockFileVerdict.OtherLayout or BlockFileVerdict.OtherTokens: return null;
            }
            int page = pool.TryRent();
            if (page < 0) return null;
            data.AsSpan(BlockFileHeaderBytes).CopyTo(pool.Bytes(page));
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
            Interlocked.Increment(ref _diskReads);
            return Adopt(key, page, nextToken, mtpRows);
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>The pool shape a block file must have been written for.</summary>
    internal readonly record struct BlockFileLayout(int Layers, int KeyRowElements, int ValueRowElements, int Type, long PageBytes);

    internal enum BlockFileVerdict { Usable, OtherLayout, Damaged, OtherTokens }

    /// <summary>
    /// Judges a block file's bytes against the pool's layout and the block's tokens; on <see cref="BlockFileVerdict.Usable"/>
    /// the page bytes follow the header. Kept free of I/O and of the pool so the fuzz target can drive it directly.
    /// </summary>
    internal static BlockFileVerdict InspectBlockFile(ReadOnlySpan<byte> data, BlockFileLayout layout, ReadOnlySpan<int> tokens, out int nextToken, out bool mtpRows)
    {
        nextToken = -1;
        mtpRows = false;
        if (data.Length < BlockFileHeaderBytes) return BlockFileVerdict.Damaged;
        var h = data[..BlockFileHeaderBytes];
        if (BinaryPrimitives.ReadUInt32LittleEndian(h) != FileMagic
            || BinaryPrimitives.ReadInt32LittleEndian(h[4..]) != FileVersion
            || BinaryPrimitives.ReadInt32LittleEndian(h[8..]) != layout.Layers
            || BinaryPrimitives.ReadInt32LittleEndian(h[12..]) != layout.KeyRowElements
            || BinaryPrimitives.ReadInt32LittleEndian(h[16..]) != layout.ValueRowElements
            || BinaryPrimitives.ReadInt32LittleEndian(h[20..]) != BlockTokens
            || BinaryPrimitives.ReadInt32LittleEndian(h[24..]) != layout.Type)
            return BlockFileVerdict.OtherLayout;
        if (data.Length != BlockFileHeaderBytes + layout.PageBytes || !ChecksumMatches(data)) return BlockFileVerdict.Damaged;
        var storedTokens = MemoryMarshal.Cast<byte, int>(h.Slice(68, BlockTokens * 4));
        if (!BitConverter.IsLittleEndian || !storedTokens.SequenceEqual(tokens)) return BlockFileVerdict.OtherTokens;
        nextToken = BinaryPrimitives.ReadInt32LittleEndian(h[28..]);
        mtpRows = BinaryPrimitives.ReadInt32LittleEndian(h[32..]) == 1;
        return BlockFileVerdict.Usable;
    }

    /// <summary>SHA-256 of everything but the checksum field itself (header fields, tokens, page bytes).</summary>
    internal static void Checksum(ReadOnlySpan<byte> header, ReadOnlySpan<byte> page, Span<byte> hash)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(header[..BlockFileChecksumOffset]);
        sha.AppendData(page);
        sha.GetHashAndReset(hash);
    }

    private static bool ChecksumMatches(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[32];
        Checksum(data[..BlockFileHeaderBytes], data[BlockFileHeaderBytes..], hash);
        return hash.SequenceEqual(data.Slice(BlockFileChecksumOffset, 32));
    }

    /// <summary>A damaged block file: deleted (so the block is written again once recomputed), and a miss.</summary>
    private Entry? Corrupt(string path)
    {
        Interlocked.Increment(ref _corruptBlocks);
        TryDelete(new FileInfo(path));
        return null;
    }

    private async Task WriteBlocksAsync()
    {
        int sinceSweep = 0;
        await foreach (var write in _diskWrites.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                WriteToDisk(write);
                if (++sinceSweep >= 256) { sinceSweep = 0; SweepDisk(); }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            finally { Interlocked.Decrement(ref _pendingDiskWrites); }
        }
    }

    private void WriteToDisk(PendingWrite write)
    {
        // Written even when a file is there: a block is only stored again when the lookup did not reach it, which is
        // when an earlier block of its chain was missing or damaged, so the file on disk may be damaged too.
        string path = PathOf(write.Key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Checksum(write.Header, write.Page, write.Header.AsSpan(BlockFileChecksumOffset, 32));
        using var file = new PendingFile(path, bufferBytes: 0); // the bytes are durable before the name points at them
        file.Stream.Write(write.Header);
        file.Stream.Write(write.Page);
        file.Commit();
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
}
