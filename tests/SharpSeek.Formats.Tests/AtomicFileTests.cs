namespace SharpSeek.Formats.Tests;

public sealed class AtomicFileTests
{
    [Fact]
    public void A_write_that_fails_leaves_the_old_file_and_no_temporary_behind()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharpseek-atomic-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "config.json");
            AtomicFile.WriteAllText(path, "old");
            Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
            {
                s.Write("new, half"u8);
                throw new InvalidOperationException("the writer failed mid-way");
            }));
            Assert.Equal("old", File.ReadAllText(path));
            Assert.Equal([path], Directory.GetFiles(dir));
            AtomicFile.WriteAllBytes(path, "new"u8);
            Assert.Equal("new", File.ReadAllText(path));
            Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteAllText(Path.Combine(dir, "missing", "x"), "x"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
