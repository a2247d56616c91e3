using System.Text;

namespace SharpSeek.Formats;

/// <summary>
/// Whole-file writes that never leave a half-written file: the bytes go to a temporary name in the same directory,
/// are flushed to disk, then renamed over the target (<see cref="PendingFile"/>). Every small file the project writes
/// beside its weights (config.json, tables, charts, summaries) goes through here.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes what <paramref name="write"/> puts into the stream; if it throws, the old file (if any) stays.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        using var file = new PendingFile(path);
        write(file.Stream);
        file.Commit();
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        using var file = new PendingFile(path);
        file.Stream.Write(bytes);
        file.Commit();
    }

    /// <summary>UTF-8 without a byte-order mark.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, Encoding.UTF8.GetBytes(text));
}
