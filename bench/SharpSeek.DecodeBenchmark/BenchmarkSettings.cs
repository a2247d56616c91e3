using System.Globalization;
using SharpSeek.Checkpoints;
using SharpSeek.Model;
using SharpSeek.Tensors;

namespace SharpSeek.DecodeBenchmark;

/// <summary>One benchmarked model file: a catalog config written with one weight type.</summary>
internal sealed record BenchmarkFile(string Config, DType Type)
{
    public override string ToString() => $"{Config}:{Type}";
}

/// <summary>What one benchmark run measures; parsed from <c>--name value</c> arguments.</summary>
internal sealed record BenchmarkSettings
{
    public string Config { get; init; } = "deepseek-v2-lite";
    /// <summary>Blocks kept (null: all). llama.cpp reads a q-LoRA-less deepseek2 file only at 26 or 27 layers, so V2-Lite keeps its 27.</summary>
    public int? Layers { get; init; }
    /// <summary>Routed experts per MoE layer (null: the config's). Fewer experts shrink the file, not the work per token (top-k is unchanged).</summary>
    public int? Experts { get; init; } = 16;
    public IReadOnlyList<DType> Types { get; init; } = [DType.Q4_K, DType.Q8_0];
    /// <summary>The files to measure, in order (null: <see cref="Config"/> at each of <see cref="Types"/>, the old options).</summary>
    public IReadOnlyList<BenchmarkFile>? FileList { get; init; }
    public int PromptTokens { get; init; } = 512;
    public int DecodeTokens { get; init; } = 32;
    public int Threads { get; init; } = 2;
    public int Repeats { get; init; } = 3;
    public ulong Seed { get; init; } = 1;
    public string Directory { get; init; } = Path.Combine(Path.GetTempPath(), "sharpseek-decode-benchmark");
    public string LlamaKvType { get; init; } = "f16";

    /// <summary>Concurrent users of the multi-user section (empty: the section is skipped).</summary>
    public IReadOnlyList<int> Users { get; init; } = [];
    /// <summary>Tokens each user generates (greedy, end-of-sequence ignored).</summary>
    public int UserTokens { get; init; } = 24;
    /// <summary>Prompt length of each user (distinct random ids per user: no shared prefix).</summary>
    public int UserPromptTokens { get; init; } = 48;
    /// <summary>Measured runs per engine and user count, after one warm-up run.</summary>
    public int UserRepeats { get; init; } = 1;
    /// <summary>Run the single-stream prefill/decode section.</summary>
    public bool SingleStream { get; init; } = true;

    public IReadOnlyList<BenchmarkFile> Files => FileList ?? Types.Select(t => new BenchmarkFile(Config, t)).ToArray();
    public bool MultiUser => Users.Count > 0;

    public static string Usage =>
        """
        usage: SharpSeek.DecodeBenchmark [--files CONFIG:TYPE,...] [--layers N] [--experts 16|all] [--threads 2] [--seed 1]
                                         [--dir PATH] [--llama-kv f16|f32]
                                         [--prompt 512] [--decode 32] [--repeats 3]                single-stream section
                                         [--users 1,4,8,16] [--user-tokens 24] [--user-prompt 48]
                                         [--user-repeats 1]                                          multi-user section
                                         [--sections single,users]
          --files       model files to measure, each a catalog config and a GGUF weight type, e.g.
                        r1-distill-qwen-1.5b:Q8_0,deepseek-v2-lite:Q4_K,deepseek-v2-lite:Q8_0 (random weights, written
                        once into --dir by our GGUF writer). The older --config NAME --types Q4_K,Q8_0 still works.
          --layers/--experts apply to every file (--experts to MoE configs only; all = the config's 64 for V2-Lite).
          single-stream: prefill of --prompt tokens and decode of --decode tokens, SharpSeek vs llama.cpp, repeats alternating.
          multi-user (only with --users): N users arrive at once, each with its own --user-prompt random token ids, and
                        each generates exactly --user-tokens tokens; total throughput, decode-phase rate, time to first token.
          --sections    which sections run (default: single, plus users when --users is given).
        Time (the 2-core box): the full command
          --files r1-distill-qwen-1.5b:Q8_0,deepseek-v2-lite:Q4_K,deepseek-v2-lite:Q8_0 --experts all --users 1,4,8,16
        takes about 30 minutes once the files exist (repeats 3, user repeats 1). The first run also writes them:
        1.9 GB, 11.3 GB (Q4_K: quantizing is slow, 5-20 min) and 16.7 GB (Q8_0, ~3 min) into --dir; 30 GB free disk needed,
        and the 16.7 GB file should fit the page cache (both engines map it; neither keeps a private copy of Q8_0).
        """;

    public static BenchmarkSettings Parse(string[] args)
    {
        var s = new BenchmarkSettings();
        string? sections = null;
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "-h" or "--help") throw new ArgumentException(Usage);
            if (i + 1 >= args.Length) throw new ArgumentException($"{name} needs a value\n{Usage}");
            string v = args[++i];
            int Int() => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int x) && x > 0 ? x : throw new ArgumentException($"{name} must be a positive integer, not '{v}'");
            s = name switch
            {
                "--config" => s with { Config = v },
                "--files" => s with { FileList = v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseFile).ToArray() },
                "--layers" => s with { Layers = Int() },
                "--experts" => s with { Experts = v == "all" ? null : Int() },
                "--types" => s with { Types = v.Split(',').Select(ParseType).ToArray() },
                "--prompt" => s with { PromptTokens = Int() },
                "--decode" => s with { DecodeTokens = Int() },
                "--threads" => s with { Threads = Int() },
                "--repeats" => s with { Repeats = Int() },
                "--seed" => s with { Seed = (ulong)Int() },
                "--dir" => s with { Directory = v },
                "--llama-kv" => s with { LlamaKvType = v is "f16" or "f32" ? v : throw new ArgumentException("--llama-kv is f16 or f32") },
                "--users" => s with { Users = v.Split(',').Select(u => int.TryParse(u, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : throw new ArgumentException($"--users takes positive counts, not '{u}'")).Distinct().Order().ToArray() },
                "--user-tokens" => s with { UserTokens = Int() },
                "--user-prompt" => s with { UserPromptTokens = Int() },
                "--user-repeats" => s with { UserRepeats = Int() },
                "--sections" => s,
                _ => throw new ArgumentException($"unknown option {name}\n{Usage}"),
            };
            if (name == "--sections") sections = v;
        }
        if (sections is not null)
        {
            var parts = sections.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var p in parts)
                if (p is not ("single" or "users")) throw new ArgumentException($"--sections takes single and/or users, not '{p}'");
            if (parts.Contains("users") && s.Users.Count == 0) throw new ArgumentException("--sections users needs --users N,...");
            s = s with { SingleStream = parts.Contains("single"), Users = parts.Contains("users") ? s.Users : [] };
            if (!s.SingleStream && !s.MultiUser) throw new ArgumentException("--sections names no section");
        }
        return s;
    }

    private static DType ParseType(string t) => Enum.TryParse<DType>(t, true, out var d) ? d : throw new ArgumentException($"unknown type '{t}'");

    private static BenchmarkFile ParseFile(string spec)
    {
        int colon = spec.LastIndexOf(':');
        if (colon <= 0 || colon == spec.Length - 1) throw new ArgumentException($"--files takes CONFIG:TYPE entries (e.g. deepseek-v2-lite:Q4_K), not '{spec}'");
        string config = spec[..colon];
        _ = ModelConfigCatalog.Get(config); // unknown names fail here, listing the known ones
        return new BenchmarkFile(config, ParseType(spec[(colon + 1)..]));
    }

    /// <summary>The benchmarked shape of <paramref name="configName"/>: the named config with the depth and expert-pool cuts applied.</summary>
    public ModelConfig ModelConfig(string configName)
    {
        var c = ModelConfigCatalog.Get(configName);
        if (Layers is int l) c = c.WithDepth(l);
        if (Experts is int e && c.NRoutedExperts > 0 && e != c.NRoutedExperts)
        {
            if (e < c.NumExpertsPerTok) throw new ArgumentException($"--experts {e} is fewer than the {c.NumExpertsPerTok} experts each token uses");
            c = c with { NRoutedExperts = e, NGroup = e % c.NGroup == 0 ? c.NGroup : 1, TopkGroup = e % c.NGroup == 0 ? c.TopkGroup : 1 };
        }
        // MTP layers do not run in plain decoding; leave them out of the file.
        return c with { NumNextnPredictLayers = 0 };
    }

    /// <summary>Where <paramref name="file"/> is written (the name keeps the old benchmark's names for V2-Lite).</summary>
    public string PathOf(BenchmarkFile file, ModelConfig config)
        => Path.Combine(Directory, config.NRoutedExperts > 0
            ? $"{file.Config}-{config.NumHiddenLayers}L-{config.NRoutedExperts}E-{file.Type}-seed{Seed}.gguf"
            : $"{file.Config}-{config.NumHiddenLayers}L-{file.Type}-seed{Seed}.gguf");
}
