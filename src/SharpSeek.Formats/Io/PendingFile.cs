namespace SharpSeek.Formats;

/// <summary>
/// A file being written under a temporary name in its final directory; <see cref="Commit"/> flushes it to disk and
/// renames it into place, and disposing without committing deletes it. Readers therefore see either the old file or
/// the complete new one, never a half-written file, even if the writer crashes or a tensor source throws.
/// </summary>
internal sealed class PendingFile : IDisposable
{
    private const int BufferBytes = 1 << 20;
    private readonly string _finalPath;
    private readonly string _tempPath;
    private FileStream? _stream;
    private bool _committed;

    public PendingFile(string path)
    {
        _finalPath = System.IO.Path.GetFullPath(path);
        string dir = System.IO.Path.GetDirectoryName(_finalPath)
            ?? throw new ArgumentException($"'{path}' has no parent directory", nameof(path));
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"directory '{dir}' does not exist");
        // Same directory as the target so the final rename stays on one file system and is atomic.
        _tempPath = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(_finalPath)}.{Guid.NewGuid():N}.tmp");
        _stream = new FileStream(_tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferBytes, FileOptions.SequentialScan);
    }

    public string FinalPath => _finalPath;

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
