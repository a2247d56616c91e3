namespace SharpSeek.Inference;

/// <summary>
/// Where the trained default model ships: <c>models/sharpseek-r1-tiny</c> in the repository (safetensors + config.json +
/// tokenizer.json). Commands find it from the current directory or from wherever the binary was built.
/// </summary>
public static class BundledModel
{
    /// <summary>The model folder relative to a search root.</summary>
    public static readonly string RelativePath = Path.Combine("models", "sharpseek-r1-tiny");

    /// <summary>The file that marks the repository root (the upward walk stops there).</summary>
    public const string RepositoryMarker = "SharpSeek.slnx";

    /// <summary>
    /// The first <c>root/models/sharpseek-r1-tiny</c> that holds a complete checkpoint (config.json and at least one
    /// .safetensors file), or null. A folder still being written (no weights yet) does not count.
    /// </summary>
    public static string? Find(IEnumerable<string> searchRoots)
    {
        foreach (string root in searchRoots)
        {
            string candidate = Path.GetFullPath(Path.Combine(root, RelativePath));
            if (IsComplete(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>
    /// Where to look, in order: <paramref name="currentDirectory"/>, then <paramref name="baseDirectory"/> and its
    /// parents up to the repository root (the first folder holding <see cref="RepositoryMarker"/>), or up to the file
    /// system root when there is no repository around the binary (an installed copy with models/ beside it).
    /// </summary>
    public static IReadOnlyList<string> SearchRoots(string currentDirectory, string baseDirectory)
    {
        var roots = new List<string> { Path.TrimEndingDirectorySeparator(Path.GetFullPath(currentDirectory)) };
        for (var dir = new DirectoryInfo(Path.TrimEndingDirectorySeparator(Path.GetFullPath(baseDirectory))); dir is not null; dir = dir.Parent)
        {
            if (!roots.Contains(dir.FullName, StringComparer.Ordinal)) roots.Add(dir.FullName);
            if (File.Exists(Path.Combine(dir.FullName, RepositoryMarker))) break;
        }
        return roots;
    }

    /// <summary><see cref="Find"/> over this process's <see cref="SearchRoots"/>.</summary>
    public static string? Locate() => Find(SearchRoots(Environment.CurrentDirectory, AppContext.BaseDirectory));

    private static bool IsComplete(string folder) =>
        Directory.Exists(folder)
        && File.Exists(Path.Combine(folder, "config.json"))
        && Directory.EnumerateFiles(folder, "*.safetensors").Any();
}
