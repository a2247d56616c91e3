using System.Buffers.Binary;
using SharpSeek.Formats;

namespace SharpSeek.Training.Data;

/// <summary>
/// Streams documents into one <see cref="TokenShard"/> file of any length in constant memory: the tokens go to a
/// <see cref="PendingFile"/> behind a placeholder header, <see cref="Commit"/> writes the real header and commits it.
/// Disposing without committing deletes the temporary file, so a failed or killed writer never leaves a file under
/// the shard's name.
/// </summary>
internal sealed class TokenShardWriter : IDisposable
{
    private readonly PendingFile _file;
    private readonly int _width;
    private readonly int _vocabulary;
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _used;
    private bool _done;

    public TokenShardWriter(string path, int vocabulary)
    {
        _vocabulary = vocabulary;
        _width = TokenShard.WidthFor(vocabulary);
        _file = new PendingFile(path, bufferBytes: 0);
        _file.Stream.Write(new byte[TokenShard.HeaderBytes]);
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
            _file.Stream.Write(_buffer, 0, _used);
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
        var stream = _file.Stream;
        stream.Write(_buffer, 0, _used);
        _used = 0;
        Span<byte> header = stackalloc byte[TokenShard.HeaderBytes];
        TokenShard.WriteHeader(header, _width, TokenCount, _vocabulary, DocumentCount);
        stream.Position = 0;
        stream.Write(header);
        long length = stream.Length;
        _file.Commit();
        _done = true;
        return length;
    }

    public void Dispose()
    {
        if (_done) return;
        _done = true;
        _file.Dispose();
    }
}
