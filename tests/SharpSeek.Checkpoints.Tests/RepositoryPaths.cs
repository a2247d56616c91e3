namespace SharpSeek.Checkpoints.Tests;

/// <summary>Where the repository and a per-run scratch folder are.</summary>
internal static class RepositoryPaths
{
    private static readonly Lazy<string> s_root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SharpSeek.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"SharpSeek.slnx not found above {AppContext.BaseDirectory}");
    });

    public static string Root => s_root.Value;
}

/// <summary>A temporary directory deleted when the test ends.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("sharpseek-checkpoints-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A mapped file still open on another thread; the OS temp cleaner gets it.
        }
    }
}
