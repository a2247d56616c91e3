using System.Diagnostics;

namespace SharpSeek.Cli.Tests;

/// <summary><c>sharpseek chat</c> in a child process with its stdin: DeepThink's starting state follows the model.</summary>
public sealed class ChatCommandTests
{
    private static string Run(params string[] args) => Converse([], args);

    /// <summary>Runs chat with <paramref name="args"/>, types <paramref name="lines"/> and then /exit; returns stdout.</summary>
    private static string Converse(string[] lines, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "sharpseek.dll"));
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        foreach (string line in lines) p.StandardInput.WriteLine(line);
        p.StandardInput.WriteLine("/exit");
        p.StandardInput.Close();
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "chat did not exit on /exit");
        Assert.True(p.ExitCode == 0, $"chat exited with {p.ExitCode}: {err.Result}");
        return output;
    }

    private static string Bundled()
    {
        string? repo = AppContext.BaseDirectory;
        while (repo is not null && !File.Exists(Path.Combine(repo, "SharpSeek.slnx"))) repo = Path.GetDirectoryName(repo);
        return Path.Combine(repo!, "models", "sharpseek-r1-tiny");
    }

    [Fact]
    public void A_model_trained_only_to_reason_starts_with_deepthink_on_and_says_why()
    {
        string output = Run("chat", "--model", Bundled());
        Assert.Contains("DeepThink starts on: this model was trained to reason", output);
        Assert.Contains("DeepThink on", output);
        Assert.Contains("DeepThink off", Run("chat", "--model", Bundled(), "--think", "false"));
        Assert.Contains("DeepThink off", Run("chat", "--random", "--random-size", "tiny"));
    }

    /// <summary>
    /// The bundled model answers a greeting and a question outside its tasks with its short capability reply (greedy,
    /// so the test is deterministic), not with a fragment of an arithmetic trace.
    /// </summary>
    [Theory]
    [InlineData("Hello! Who are you?")]
    [InlineData("What is the capital of France?")]
    public void The_bundled_model_says_what_it_can_do_when_asked_something_else(string message)
    {
        string output = Converse([message], "chat", "--model", Bundled(), "--temperature", "0");
        Assert.Contains("I am SharpSeek-R1-tiny. I solve arithmetic and word problems", output);
        Assert.DoesNotContain('\uFFFD', output);
    }
}
