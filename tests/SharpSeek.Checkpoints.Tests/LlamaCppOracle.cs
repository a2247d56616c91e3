using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace SharpSeek.Checkpoints.Tests;

/// <summary>
/// llama.cpp's logits for a GGUF file, from tests/oracles/llama/logits.mjs (node-llama-cpp's CPU prebuilt, F32 KV cache,
/// all positions in one controlledEvaluate call): one node process per model file. Installs the oracle from its lock
/// file on first use when CI has not already (scripts/install-oracles.sh).
/// </summary>
internal static class LlamaCppOracle
{
    private static readonly object s_installLock = new();
    private static bool s_installed;

    public static string Directory => Path.Combine(RepositoryPaths.Root, "tests", "oracles", "llama");

    /// <summary>Raw logits [position][vocab] for <paramref name="tokens"/> evaluated from an empty context.</summary>
    public static float[][] Logits(string modelPath, IReadOnlyList<int> tokens, int threads = 2)
    {
        EnsureInstalled();
        string tokensFile = Path.Combine(Path.GetDirectoryName(modelPath)!, Path.GetFileNameWithoutExtension(modelPath) + ".tokens.txt");
        File.WriteAllText(tokensFile, string.Join(",", tokens));
        var (stdout, stderr, exit) = Run("node", ["logits.mjs", "--model", modelPath, "--tokens-file", tokensFile, "--threads", threads.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromMinutes(3));
        if (exit != 0) throw new InvalidOperationException($"llama.cpp oracle failed on {modelPath} (exit {exit}):\n{stderr}");
        using var doc = JsonDocument.Parse(stdout);
        var rows = doc.RootElement.GetProperty("logits");
        var result = new float[rows.GetArrayLength()][];
        int p = 0;
        foreach (var row in rows.EnumerateArray())
        {
            var values = new float[row.GetArrayLength()];
            int i = 0;
            foreach (var v in row.EnumerateArray()) values[i++] = v.GetSingle();
            result[p++] = values;
        }
        return result;
    }

    private static void EnsureInstalled()
    {
        lock (s_installLock)
        {
            if (s_installed) return;
            if (!File.Exists(Path.Combine(Directory, "node_modules", "@node-llama-cpp", "linux-x64", "package.json")))
            {
                var (stdout, stderr, exit) = Run("bash", ["install.sh"], TimeSpan.FromMinutes(10));
                if (exit != 0) throw new InvalidOperationException($"installing the llama.cpp oracle failed ({exit}):\n{stdout}\n{stderr}");
            }
            s_installed = true;
        }
    }

    private static (string Stdout, string Stderr, int Exit) Run(string program, string[] args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish within {timeout}");
        }
        return (stdout.Result, stderr.Result, process.ExitCode);
    }
}
