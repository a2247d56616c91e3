namespace SharpSeek.Training.Data;

/// <summary>How a corpus file is cut into documents (<see cref="CorpusDocuments"/>).</summary>
public enum CorpusFormat
{
    /// <summary>Plain UTF-8 text: paragraphs (runs of non-blank lines) are documents.</summary>
    Text,
    /// <summary>JSON Lines: every non-blank line is an object whose <c>"text"</c> string is one document.</summary>
    JsonLines,
}

/// <summary>
/// One input file of a corpus as it was when the corpus was listed: <paramref name="Name"/> is its path relative to the
/// listed folder ('/'-separated; the file name for a single file), which is what shard records compare, so a moved corpus
/// folder is still recognised; <paramref name="Length"/> and <paramref name="LastWriteUtcTicks"/> tell a changed file.
/// </summary>
public sealed record CorpusFile(string FullPath, string Name, long Length, long LastWriteUtcTicks, CorpusFormat Format)
{
    public static CorpusFile FromPath(string fullPath, string name)
    {
        var info = new FileInfo(fullPath);
        return new CorpusFile(info.FullName, name, info.Length, info.LastWriteTimeUtc.Ticks, CorpusFiles.FormatOf(fullPath));
    }
}

/// <summary>The files a corpus path names, in corpus order, and what was left out (one line each, for warnings).</summary>
public sealed record CorpusListing(IReadOnlyList<CorpusFile> Files, IReadOnlyList<string> Skipped);

/// <summary>
/// Lists the text files of a corpus: a single file is taken whatever its extension; a folder is walked recursively and
/// contributes the files ending in <see cref="TextExtensions"/> (case-insensitive), ordered by their relative path in
/// ordinal order — the order their shards have in the dataset. Hidden files and folders (a leading '.') are not
/// visited; other extensions, and files whose first 8 KiB hold a NUL byte (binary data under a text name), are skipped
/// and reported in <see cref="CorpusListing.Skipped"/>. Every rank of a distributed run lists the same folder and gets
/// the same list.
/// </summary>
public static class CorpusFiles
{
    /// <summary>Extensions read from a folder: plain text and Markdown as paragraphs, <c>.jsonl</c> as JSON Lines.</summary>
    public static IReadOnlyList<string> TextExtensions { get; } = [".txt", ".text", ".md", ".markdown", ".jsonl"];

    private const int SniffBytes = 8192;

    public static CorpusFormat FormatOf(string path) =>
        path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? CorpusFormat.JsonLines : CorpusFormat.Text;

    /// <summary>
    /// The corpus files under <paramref name="path"/>; files inside <paramref name="exclude"/> (the run's own folder when
    /// it lies inside the corpus, so its metrics.jsonl is never read as text) are left out.
    /// </summary>
    /// <exception cref="FileNotFoundException">The path is neither a file nor a folder.</exception>
    /// <exception cref="InvalidDataException">A single file given by name holds binary data.</exception>
    public static CorpusListing Find(string path, string? exclude = null)
    {
        string full = Path.GetFullPath(path);
        if (File.Exists(full))
        {
            if (HasNulByte(full)) throw new InvalidDataException($"{full} holds binary data (a NUL byte in its first 8 KiB), not UTF-8 text");
            return new CorpusListing([CorpusFile.FromPath(full, Path.GetFileName(full))], []);
        }
        if (!Directory.Exists(full)) throw new FileNotFoundException($"no file or folder at '{full}'", full);

        string? excluded = exclude is null ? null : Path.TrimEndingDirectorySeparator(Path.GetFullPath(exclude)) + Path.DirectorySeparatorChar;
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
            IgnoreInaccessible = false,
            MatchType = MatchType.Simple,
        };
        var files = new List<CorpusFile>();
        var skipped = new List<string>();
        int otherExtensions = 0;
        var examples = new List<string>();
        foreach (string file in Directory.EnumerateFiles(full, "*", options))
        {
            string relative = Path.GetRelativePath(full, file).Replace(Path.DirectorySeparatorChar, '/');
            if (relative.Split('/').Any(part => part.StartsWith('.'))) continue;
            if (excluded is not null && file.StartsWith(excluded, StringComparison.Ordinal)) continue;
            if (!TextExtensions.Any(e => file.EndsWith(e, StringComparison.OrdinalIgnoreCase)))
            {
                otherExtensions++;
                if (examples.Count < 3) examples.Add(relative);
                continue;
            }
            if (HasNulByte(file))
            {
                skipped.Add($"{relative}: binary data (a NUL byte in its first 8 KiB)");
                continue;
            }
            files.Add(CorpusFile.FromPath(file, relative));
        }
        if (otherExtensions > 0)
            skipped.Insert(0, $"{otherExtensions} file(s) not ending in {string.Join(", ", TextExtensions)} (e.g. {string.Join(", ", examples.Order(StringComparer.Ordinal))})");
        files.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return new CorpusListing(files, skipped);
    }

    private static bool HasNulByte(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        Span<byte> head = stackalloc byte[SniffBytes];
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return head[..read].Contains((byte)0);
    }
}
