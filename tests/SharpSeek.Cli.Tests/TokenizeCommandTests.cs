using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace SharpSeek.Cli.Tests;

/// <summary>
/// <c>sharpseek tokenize</c> on broken tokenizer files (the escapes the tokenizer fuzz target found): each ends with
/// an error message and a non-zero exit code, never an unhandled exception.
/// </summary>
public sealed class TokenizeCommandTests
{
    private static readonly string Bundled = Path.Combine(FindRoot(), "models", "sharpseek-r1-tiny", "tokenizer.json");

    private static (int ExitCode, string Stdout, string Stderr) Tokenize(string tokenizer, string stdin)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "sharpseek.dll"), "tokenize", "--tokenizer", tokenizer }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        using (var input = new StreamWriter(p.StandardInput.BaseStream, new UTF8Encoding(false))) input.Write(stdin);
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "tokenize did not finish");
        return (p.ExitCode, stdout, stderr.Result);
    }

    [Fact]
    public void Bundled_tokenizer_encodes()
    {
        var r = Tokenize(Bundled, "pizza");
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("[", r.Stdout);
    }

    [Fact]
    public void Invalid_utf8_in_tokenizer_json_is_a_load_error()
    {
        using var dir = new TempDirectory();
        byte[] json = File.ReadAllBytes(Bundled);
        json[json.AsSpan().IndexOf("<think>"u8) + 3] = 0xFF;
        File.WriteAllBytes(dir.File("tokenizer.json"), json);
        var r = Tokenize(dir.File("tokenizer.json"), "hello");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot load tokenizer", r.Stderr);
        Assert.DoesNotContain("Unhandled", r.Stderr);
    }

    [Fact]
    public void Text_the_vocabulary_cannot_encode_is_an_error_message()
    {
        using var dir = new TempDirectory();
        var tok = JsonNode.Parse(File.ReadAllBytes(Bundled))!;
        var vocab = tok["model"]!["vocab"]!.AsObject();
        foreach (var key in vocab.Select(kv => kv.Key).Where(k => k.Contains('z')).ToList()) vocab.Remove(key);
        var merges = tok["model"]!["merges"]!.AsArray();
        for (int i = merges.Count - 1; i >= 0; i--)
            if (((string)merges[i]![0]! + (string)merges[i]![1]!).Contains('z')) merges.RemoveAt(i);
        File.WriteAllText(dir.File("tokenizer.json"), tok.ToJsonString());
        var r = Tokenize(dir.File("tokenizer.json"), "pizza");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no single-byte token", r.Stderr);
        Assert.DoesNotContain("Unhandled", r.Stderr);
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SharpSeek.slnx"))) return d.FullName;
        throw new InvalidOperationException("SharpSeek.slnx not found");
    }
}
