using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace SharpSeek.Inference;

// The disk tier: one file per block, named by its key, holding the block's tokens and its page bytes. Files are
// written by a background task (temp file, then rename, so a reader never sees half a block) and read back into a
// fresh page on a memory miss. A file whose layout does not match the pool (another model shape, element type or
// MTP setting) is ignored.
public sealed partial class ContextCache
{
    private const uint FileMagic = 0x564B5353; // "SSKV"
    private const int FileVersion = 3;
    private const int HeaderBytes = 9 * 4 + 32 + BlockTokens * 4;

    private readonly Channel<PendingWrite> _diskWrites = Channel.CreateBounded<PendingWrite>(
        new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private Task _diskWriter = Task.CompletedTask;
    private int _pendingDiskWrites;

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

    /// <summary>Waits until the blocks queued for disk are written (tests, shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        while (Volatile.Read(ref _pendingDiskWrites) > 0)
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
        var header = new byte[HeaderBytes];
        WriteHeader(header, entry.NextToken, entry.MtpRows, previousKey, tokens);
        if (_diskWrites.Writer.TryWrite(new PendingWrite(entry.Key, header, page.ToArray()))) Interlocked.Increment(ref _pendingDiskWrites);
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
            if (data.Length != HeaderBytes + pool.PageBytes) return null;
            var h = data.AsSpan(0, HeaderBytes);
            if (BinaryPrimitives.ReadUInt32LittleEndian(h) != FileMagic
                || BinaryPrimitives.ReadInt32LittleEndian(h[4..]) != FileVersion
                || BinaryPrimitives.ReadInt32LittleEndian(h[8..]) != pool.Layers
                || BinaryPrimitives.ReadInt32LittleEndian(h[12..]) != pool.KeyRowElements
                || BinaryPrimitives.ReadInt32LittleEndian(h[16..]) != pool.ValueRowElements
                || BinaryPrimitives.ReadInt32LittleEndian(h[20..]) != BlockTokens
                || BinaryPrimitives.ReadInt32LittleEndian(h[24..]) != (int)pool.Type)
                return null;
            var storedTokens = MemoryMarshal.Cast<byte, int>(h.Slice(68, BlockTokens * 4));
            if (!BitConverter.IsLittleEndian || !storedTokens.SequenceEqual(tokens)) return null;
            int page = pool.TryRent();
            if (page < 0) return null;
            data.AsSpan(HeaderBytes).CopyTo(pool.Bytes(page));
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
            Interlocked.Increment(ref _diskReads);
            return Adopt(key, page, BinaryPrimitives.ReadInt32LittleEndian(h[28..]), BinaryPrimitives.ReadInt32LittleEndian(h[32..]) == 1);
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
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
        string path = PathOf(write.Key);
        if (File.Exists(path)) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = path + "." + Environment.ProcessId + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            file.Write(write.Header);
            file.Write(write.Page);
            file.Flush(flushToDisk: true);
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
}
