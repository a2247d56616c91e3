using System.Globalization;
using SharpSeek.Checkpoints;
using SharpSeek.Model;
using SharpSeek.Tensors;

namespace SharpSeek.DecodeBenchmark;

/// <summary>What one benchmark run measures; parsed from <c>--name value</c> arguments.</summary>
internal sealed record BenchmarkSettings
{
    public string Config { get; init; } = "deepseek-v2-lite";
    /// <summary>Blocks kept (null: all). llama.cpp reads a q-LoRA-less deepseek2 file only at 26 or 27 layers, so V2-Lite keeps its 27.</summary>
    public int? Layers { get; init; }
    /// <summary>Routed experts per MoE layer (null: the config's). Fewer experts shrink the file, not the work per token (top-k is unchanged).</summary>
    public int? Experts { get; init; } = 16;
    public IReadOnlyList<DType> Types { get; init; } = [DType.Q4_K, DType.Q8_0];
    public int PromptTokens { get; init; } = 512;
    public int DecodeTokens { get; init; } = 32;
    public int Threads { get; init; } = 2;
    public int Repeats { get; init; } = 3;
    public ulong Seed { get; init; } = 1;
    public string Directory { get; init; } = Path.Combine(Path.GetTempPath(), "sharpseek-decode-benchmark");
    public string LlamaKvType { get; init; } = "f16";

    public static string Usage =>
        "usage: SharpSeek.DecodeBenchmark [--config deepseek-v2-lite] [--layers N] [--experts 16|all] [--types Q4_K,Q8_0] " +
        "[--prompt 512] [--decode 32] [--threads 2] [--repeats 3] [--seed 1] [--dir PATH] [--llama-kv f16|f32]";

    public static BenchmarkSettings Parse(string[] args)
    {
        var s = new BenchmarkSettings();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (i + 1 >= args.Length) throw new ArgumentException($"{name} needs a value\n{Usage}");
            string v = args[++i];
            int Int() => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int x) && x > 0 ? x : throw new ArgumentException($"{name} must be a positive integer, not '{v}'");
            s = name switch
            {
                "--config" => s with { Config = v },
                "--layers" => s with { Layers = Int() },
                "--experts" => s with { Experts = v == "all" ? null : Int() },
                "--types" => s with { Types = v.Split(',').Select(t => Enum.TryParse<DType>(t, true, out var d) ? d : throw new ArgumentException($"unknown type '{t}'")).ToArray() },
                "--prompt" => s with { PromptTokens = Int() },
                "--decode" => s with { DecodeTokens = Int() },
                "--threads" => s with { Threads = Int() },
                "--repeats" => s with { Repeats = Int() },
                "--seed" => s with { Seed = (ulong)Int() },
                "--dir" => s with { Directory = v },
                "--llama-kv" => s with { LlamaKvType = v is "f16" or "f32" ? v : throw new ArgumentException("--llama-kv is f16 or f32") },
                _ => throw new ArgumentException($"unknown option {name}\n{Usage}"),
            };
        }
        return s;
    }

    /// <summary>The benchmarked shape: the named config with the depth and expert-pool cuts applied.</summary>
    public ModelConfig ModelConfig()
    {
        var c = ModelConfigCatalog.Get(Config);
        if (Layers is int l) c = c.WithDepth(l);
        if (Experts is int e && c.NRoutedExperts > 0)
        {
            if (e < c.NumExpertsPerTok) throw new ArgumentException($"--experts {e} is fewer than the {c.NumExpertsPerTok} experts each token uses");
            c = c with { NRoutedExperts = e, NGroup = e % c.NGroup == 0 ? c.NGroup : 1, TopkGroup = e % c.NGroup == 0 ? c.TopkGroup : 1 };
        }
        // MTP layers do not run in plain decoding; leave them out of the file.
        return c with { NumNextnPredictLayers = 0 };
    }
}
