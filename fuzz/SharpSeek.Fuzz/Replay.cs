namespace SharpSeek.Fuzz;

/// <summary>Runs saved inputs (a corpus, afl's crashes folder) through a target outside afl, one line per finding.</summary>
internal static class Replay
{
    public static int Files(FuzzTarget target, IEnumerable<string> paths)
    {
        var files = paths.SelectMany(p => Directory.Exists(p)
            ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).StartsWith('.') && Path.GetFileName(f) != "README.txt")
            : [p]).Order(StringComparer.Ordinal).ToList();
        int findings = 0;
        foreach (string file in files)
        {
            try { FuzzHarness.Execute(target, File.ReadAllBytes(file)); }
            catch (Exception e)
            {
                findings++;
                Console.WriteLine($"FINDING {file}: {e.GetType().FullName}: {e.Message}");
                Console.WriteLine(e.StackTrace);
            }
        }
        Console.WriteLine($"{target.Name}: {files.Count} inputs, {findings} findings");
        return findings == 0 ? 0 : 1;
    }
}
