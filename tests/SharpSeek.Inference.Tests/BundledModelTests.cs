namespace SharpSeek.Inference.Tests;

/// <summary>Finding the bundled default model (models/sharpseek-r1-tiny) from the search roots.</summary>
public sealed class BundledModelTests
{
    private static string MakeModelFolder(string root, bool withWeights)
    {
        string folder = Path.Combine(root, BundledModel.RelativePath);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), "{}");
        if (withWeights) File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), [0]);
        return folder;
    }

    [Fact]
    public void Find_picks_the_first_root_holding_a_complete_folder()
    {
        string first = TinyModelFixture.TempDirectory(), second = TinyModelFixture.TempDirectory(), third = TinyModelFixture.TempDirectory();
        MakeModelFolder(first, withWeights: false); // still being written: config but no weights yet
        string expected = MakeModelFolder(second, withWeights: true);
        MakeModelFolder(third, withWeights: true);
        Assert.Equal(expected, BundledModel.Find([first, second, third]));
    }

    [Fact]
    public void Find_returns_null_when_no_root_has_the_model()
    {
        string empty = TinyModelFixture.TempDirectory(), partial = TinyModelFixture.TempDirectory();
        MakeModelFolder(partial, withWeights: false);
        Assert.Null(BundledModel.Find([empty, partial, Path.Combine(empty, "does-not-exist")]));
    }

    [Fact]
    public void Search_roots_are_the_current_directory_then_the_binary_folder_up_to_the_repository_root()
    {
        string outside = TinyModelFixture.TempDirectory();
        string repo = Path.Combine(outside, "repo");
        string bin = Path.Combine(repo, "src", "app", "bin");
        Directory.CreateDirectory(bin);
        File.WriteAllText(Path.Combine(repo, BundledModel.RepositoryMarker), "<Solution />");
        string cwd = TinyModelFixture.TempDirectory();

        var roots = BundledModel.SearchRoots(cwd + Path.DirectorySeparatorChar, bin);
        Assert.Equal([cwd, bin, Path.Combine(repo, "src", "app"), Path.Combine(repo, "src"), repo], roots);

        // Run from the repository root itself: no duplicate root.
        Assert.Equal([repo, Path.Combine(repo, "src", "app", "bin"), Path.Combine(repo, "src", "app"), Path.Combine(repo, "src")], BundledModel.SearchRoots(repo, bin));
    }

    [Fact]
    public void The_repository_checkout_finds_its_bundled_model_when_it_has_one()
    {
        // Whether or not the model is committed yet, the lookup from the test binary must agree with the file system.
        var roots = BundledModel.SearchRoots(Environment.CurrentDirectory, AppContext.BaseDirectory);
        string repo = roots[^1];
        Assert.True(File.Exists(Path.Combine(repo, BundledModel.RepositoryMarker)), $"the walk up from {AppContext.BaseDirectory} did not reach the repository root");
        string folder = Path.Combine(repo, BundledModel.RelativePath);
        bool present = File.Exists(Path.Combine(folder, "config.json")) && Directory.Exists(folder) && Directory.EnumerateFiles(folder, "*.safetensors").Any();
        if (present) Assert.NotNull(BundledModel.Locate());
    }
}
