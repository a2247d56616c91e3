namespace SharpSeek.Formats;

/// <summary>
/// A model file (GGUF, safetensors, or a shard index) is malformed, truncated, or uses something this reader does not
/// support. The message always names the file so a user with a directory of shards knows which one is bad.
/// </summary>
public sealed class InvalidModelFileException : Exception
{
    /// <summary>The file at fault.</summary>
    public string FilePath { get; }

    /// <summary>The problem, without the file name.</summary>
    public string Problem { get; }

    public InvalidModelFileException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner)
    {
        FilePath = filePath;
        Problem = problem;
    }
}
