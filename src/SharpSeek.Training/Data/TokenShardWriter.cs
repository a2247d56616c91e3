using System.Buffers.Binary;

namespace SharpSeek.Training.Data;

/// <summary>
/// Streams documents into one <see cref="TokenShard"/> file of any length in constant memory: the tokens go to a
/// temporary file in the same directory behind a placeholder header, <see cref="Commit"/> writes the real header,
/// flushes to disk and renames the file into place. Disposing without committing deletes the temporary file, so a
/// failed or killed writer never leaves a file under the shard's name.
/// </summary>
internal sealed class TokenShardWriter : IDisposable
{
    private readonly string _path;
    private readonly string _temp;
    private readonly FileStream _file;
    private readonly int _width;
    private readonly int _vocabulary;
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _used;
    private bool _done;

    public TokenShardWriter(string path, int vocabulary)
    {
        _path = path;
        _vocabulary = vocabulary;
        _width = TokenShard.WidthFor(vocabulary);
        _temp = path + $".{Guid.NewGuid():N}.tmp";
        _file = new FileStream(_temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        _file.Write(new byte[TokenShard.HeaderBytes]);
    }

    public long TokenCount { get; private set; }
    public int DocumentCount { get; private set; }

    /// <summary>Appends the separator and then the document's ids.</summary>
    public void AddDocument(int separator, ReadOnlySpan<int> ids)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        Put(separator);
        foreach (int id in ids) Put(id);
        DocumentCount++;
    }

    private void Put(int id)
    {
        if (_used + _width > _buffer.Length)
        {
            _file.Write(_buffer, 0, _used);
            _used = 0;
        }
        if (_width == 2) BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(_used), (ushort)id);
        else BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_used), id);
        _used += _width;
        TokenCount++;
    }

    /// <summary>Completes the shard under its final name; returns its length in bytes.</summary>
    public long Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        _file.Write(_buffer, 0, _used);
        _used = 0;
        Span<byte> header = stackalloc byte[TokenShard.HeaderBytes];
        TokenShard.WriteHeader(header, _width, TokenCount, _vocabulary, DocumentCount);
        _file.Position = 0;
        _file.Write(header);
        _file.Flush(flushToDisk: true);
        long length = _file.Length;
        _file.Dispose();
        _done = true;
        File.Move(_temp, _path, overwrite: true);
        return length;
    }

    public void Dispose()
    {
        if (_done) return;
        _done = true;
        _file.Dispose();
        try { File.Delete(_temp); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
