namespace SharpSeek.Cli.Tests;

/// <summary><c>serve</c>'s operator options: binding beyond loopback needs keys; bad sharing groups and limits are one error line.</summary>
public sealed class ServeBindingTests
{
    [Theory]
    [InlineData(new[] { "--host", "0.0.0.0" }, "needs API keys: give at least one --api-key")]
    [InlineData(new[] { "--host", "my-laptop" }, "--host must be an IP address")]
    [InlineData(new[] { "--cache-share-group", "team" }, "--cache-share-group: 'team' is not NAME=ACCOUNT,ACCOUNT")]
    [InlineData(new[] { "--max-running-per-key", "0" }, "--max-running-per-key must be at least 1")]
    public void Bad_operator_options_are_one_error_line(string[] extra, string message)
    {
        using var dir = new TempDirectory();
        var r = CliProcess.Run(["serve", "--random", "--random-size", "tiny", "--port", "0", "--data", dir.File("data"), .. extra]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: ", r.Stderr);
        Assert.Contains(message, r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }
}
