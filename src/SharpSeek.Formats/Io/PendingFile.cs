namespace SharpSeek.Formats;

/// <summary>
/// A file being written under a temporary name in its final directory; <see cref="Commit"/> flushes it to disk and
/// renames it into place, and disposing without committing deletes it. Readers therefore see either the old file or
/// the complete new one, never a half-written file, even if the writer crashes or a tensor source throws. Every file
/// the project writes goes through here: weights, token shards, context-cache blocks, and small files via
/// <see cref="AtomicFile"/>.
/// </summary>
public sealed class PendingFile : IDisposable
{
    private readonly string _finalPath;
    private readonly string _tempPath;
    private FileStream? _stream;
    private bool _committed;

    /// <param name="path">The final name.</param>
    /// <param name="bufferBytes">The stream's buffer: large for big sequential writes, 0 for a caller that writes a few
    /// large spans itself (no buffer to allocate per file).</param>
    public PendingFile(string path, int bufferBytes = 1 << 20)
    {
        _finalPath = System.IO.Path.GetFullPath(path);
        string dir = System.IO.Path.GetDirectoryName(_finalPath)
            ?? throw new ArgumentException($"'{path}' has no parent directory", nameof(path));
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"directory '{dir}' does not exist");
        // Same directory as the target so the final rename stays on one file system and is atomic.
        _tempPath = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(_finalPath)}.{Guid.NewGuid():N}.tmp");
        _stream = new FileStream(_tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferBytes, FileOptions.SequentialScan);
    }

    public FileStream Stream => _stream ?? throw new ObjectDisposedException(nameof(PendingFile));

    public void Commit()
    {
        var s = Stream;
        s.Flush(flushToDisk: true);
        s.Dispose();
        _stream = null;
        File.Move(_tempPath, _finalPath, overwrite: true);
        _committed = true;
    }

    public void Dispose()
    {
        if (_committed) return;
        _stream?.Dispose();
        _stream = null;
        try { File.Delete(_tempPath); }
        catch (IOException) { /* best effort: the original error matters more than a leftover temp file */ }
        catch (UnauthorizedAccessException) { }
    }
}
