using SharpSeek.Fuzz;

namespace SharpSeek.Fuzz.Tests;

/// <summary>
/// Every committed input under fuzz/corpus (the generated seeds, the inputs the fuzzer kept, and the regression-*
/// reproducers of bugs it found) goes through its target exactly as afl-fuzz runs it: the only allowed outcomes are
/// acceptance and a documented rejection, within the allocation bound.
/// </summary>
public sealed class CorpusReplayTests
{
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var target in FuzzTargets.All)
        {
            string dir = Path.Combine(CorpusRoot, target.Name);
            foreach (string file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
                data.Add(target.Name, Path.GetFileName(file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Input_is_accepted_or_cleanly_rejected(string target, string file)
    {
        var t = FuzzTargets.Find(target)!;
        FuzzHarness.Execute(t, File.ReadAllBytes(Path.Combine(CorpusRoot, target, file)));
    }

    [Fact]
    public void Every_target_has_seeds()
    {
        foreach (var target in FuzzTargets.All)
            Assert.Contains(Directory.EnumerateFiles(Path.Combine(CorpusRoot, target.Name)), f => Path.GetFileName(f).StartsWith("seed-", StringComparison.Ordinal));
    }

    internal static string CorpusRoot => Path.Combine(FindRoot(), "fuzz", "corpus");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SharpSeek.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"SharpSeek.slnx not found above {AppContext.BaseDirectory}");
    }
}
