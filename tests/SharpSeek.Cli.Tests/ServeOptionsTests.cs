namespace SharpSeek.Cli.Tests;

/// <summary><c>serve</c>'s engine options: bad memory sizes and types end with one clear error line, before any model loads.</summary>
public sealed class ServeOptionsTests
{
    [Theory]
    [InlineData("--kv-memory", "0", "--kv-memory: '0' must be a positive size")]
    [InlineData("--kv-memory", "lots", "--kv-memory: 'lots' is not a size")]
    [InlineData("--kv-memory", "-4G", "--kv-memory: '-4G' is not a size")]
    [InlineData("--kv-memory", "12Q", "--kv-memory: '12Q' is not a size")]
    [InlineData("--kv-cache-type", "q8", "--kv-cache-type: 'q8' is not one of f16, bf16, f32")]
    [InlineData("--batch-tokens", "4", "a step must hold two rows per sequence")]
    public void Bad_engine_options_are_one_error_line(string option, string value, string message)
    {
        var r = CliProcess.Run("serve", "--random", "--random-size", "tiny", "--port", "0", option, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: ", r.Stderr);
        Assert.Contains(message, r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr); // no stack trace
    }

    /// <summary>A memory size that parses but holds no page of this model is refused by the engine, naming the page size.</summary>
    [Fact]
    public void A_kv_memory_smaller_than_one_page_is_refused()
    {
        using var dir = new TempDirectory();
        var r = CliProcess.Run("serve", "--random", "--random-size", "tiny", "--port", "0", "--data", dir.File("data"), "--kv-memory", "1K");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("holds no page", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }
}
