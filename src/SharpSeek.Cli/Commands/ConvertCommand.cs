using System.CommandLine;
using System.Diagnostics;
using SharpSeek.Checkpoints;
using SharpSeek.Checkpoints.Gguf;
using SharpSeek.Checkpoints.HuggingFace;
using SharpSeek.Tensors;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek convert --input PATH --output PATH [--type T]</c>: HF safetensors directory (F32/F16/BF16/FP8) or GGUF →
/// GGUF (deepseek2/qwen2/llama as llama.cpp lays them out; weights F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K) or → HF directory
/// (HF names, config.json; weights F32, F16, BF16 or F8E4M3 with 128×128 block scales). The output format follows the
/// output name: *.gguf is GGUF, anything else a directory.
/// </summary>
internal static class ConvertCommand
{
    // Files of an HF folder that travel with the weights when converting folder to folder.
    private static readonly string[] s_sideFiles = ["tokenizer.json", "tokenizer_config.json", "generation_config.json"];

    public static Command Create()
    {
        var input = new Option<string>("--input", "-i") { Description = "GGUF file or HF safetensors directory", Required = true };
        var outputPath = new Option<string>("--output", "-o") { Description = "a .gguf file, or a directory for an HF checkpoint", Required = true };
        var type = new Option<string?>("--type") { Description = "weight type: GGUF F32|F16|BF16|Q8_0|Q4_0|Q4_K|Q6_K (default Q8_0); HF F32|F16|BF16|F8E4M3 (default BF16)" };
        var embeddingType = new Option<string?>("--embedding-type") { Description = "GGUF only: type of token embedding and output head (default: --type)" };
        var noMtp = new Option<bool>("--no-mtp") { Description = "leave out the multi-token-prediction layers" };
        var shard = new Option<long>("--shard-bytes") { Description = "HF only: largest shard", DefaultValueFactory = _ => 4L << 30 };
        var command = new Command("convert", "Convert between HF safetensors directories and GGUF files")
        {
            input, outputPath, type, embeddingType, noMtp, shard,
        };
        command.SetAction(parse => LogitsCommand.Run(() =>
        {
            string target = parse.GetValue(outputPath)!;
            using var source = Checkpoint.Open(parse.GetValue(input)!);
            var clock = Stopwatch.StartNew();
            int written = 0;
            void Progress(string name, DType dtype)
            {
                written++;
                if (!Console.IsErrorRedirected) Console.Error.Write($"\r[{written}] {name} → {dtype}".PadRight(100));
            }
            if (target.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            {
                var options = new GgufWriteOptions
                {
                    WeightType = ParseType(parse.GetValue(type) ?? "Q8_0"),
                    EmbeddingType = parse.GetValue(embeddingType) is { } e ? ParseType(e) : null,
                    IncludeMtp = !parse.GetValue(noMtp),
                    Name = Path.GetFileNameWithoutExtension(target),
                    // Keep the source's vocabulary: a GGUF's tokenizer entries carry over as they are.
                    ExtraMetadata = source.Gguf is { } g && g.Metadata.ContainsKey("tokenizer.ggml.model") ? GgufTokenizerMetadata.From(g.Metadata) : null,
                    Progress = Progress,
                };
                GgufCheckpointWriter.Write(source, target, options);
            }
            else
            {
                HuggingFaceCheckpointWriter.Write(source, target, new HuggingFaceWriteOptions
                {
                    WeightType = ParseType(parse.GetValue(type) ?? "BF16"),
                    IncludeMtp = !parse.GetValue(noMtp),
                    MaxShardBytes = parse.GetValue(shard),
                    Progress = Progress,
                });
                if (source.Format == CheckpointFormat.HuggingFace)
                    foreach (var name in s_sideFiles)
                        if (File.Exists(Path.Combine(source.Path, name))) File.Copy(Path.Combine(source.Path, name), Path.Combine(target, name), overwrite: true);
            }
            if (!Console.IsErrorRedirected) Console.Error.WriteLine();
            Console.WriteLine($"wrote {target} ({source.Config.ModelType}, {written} tensors) in {clock.Elapsed.TotalSeconds:F1} s");
        }));
        return command;
    }

    internal static DType ParseType(string text)
        => Enum.TryParse<DType>(text, ignoreCase: true, out var t) && Enum.IsDefined(t)
            ? t
            : throw new ArgumentException($"unknown tensor type '{text}' (F32, F16, BF16, F8E4M3, Q8_0, Q4_0, Q4_K, Q6_K)");
}
