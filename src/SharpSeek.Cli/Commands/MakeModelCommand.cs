using System.CommandLine;
using System.Diagnostics;
using SharpSeek.Checkpoints;
using SharpSeek.Checkpoints.Gguf;
using SharpSeek.Checkpoints.HuggingFace;
using SharpSeek.Model;
using SharpSeek.Tensors;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek make-model --config NAME --layers N --dtype Q8_0 --out PATH</c>: a seeded random-weight model of a named
/// shape (DeepSeek-V3, V2-Lite, the R1 distills, tiny test shapes) as a GGUF file or an HF safetensors directory, for
/// benchmarking real shapes without downloading weights. Weights are scaled so activations stay O(1) and logits are
/// informative; tensors are generated and written one at a time, so any size streams to disk.
/// </summary>
internal static class MakeModelCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = $"model shape: {string.Join(", ", ModelConfigCatalog.Names.Order())}", Required = true };
        var layers = new Option<int?>("--layers") { Description = "keep only the first N blocks (dense ones first), e.g. to fit memory" };
        var dtype = new Option<string>("--dtype") { Description = "weight type: GGUF F32|F16|BF16|Q8_0|Q4_0|Q4_K; HF F32|F16|BF16|F8E4M3", DefaultValueFactory = _ => "Q8_0" };
        var outPath = new Option<string>("--out", "-o") { Description = "a .gguf file, or a directory for an HF checkpoint", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "random seed", DefaultValueFactory = _ => 1 };
        var vocab = new Option<int?>("--vocab") { Description = "override the vocabulary size" };
        var noMtp = new Option<bool>("--no-mtp") { Description = "leave out the multi-token-prediction layers" };
        var command = new Command("make-model", "Write a random-weight model of a named shape (GGUF or HF safetensors)")
        {
            config, layers, dtype, outPath, seed, vocab, noMtp,
        };
        command.SetAction(parse => LogitsCommand.Run(() =>
        {
            var shape = ModelConfigCatalog.Get(parse.GetValue(config)!);
            if (parse.GetValue(layers) is int n) shape = shape.WithDepth(n);
            if (parse.GetValue(vocab) is int v) shape = shape with { VocabSize = v };
            if (parse.GetValue(noMtp)) shape = shape with { NumNextnPredictLayers = 0 };
            shape.Validate();
            var source = new RandomCheckpoint(shape, parse.GetValue(seed));
            string target = parse.GetValue(outPath)!;
            var type = ConvertCommand.ParseType(parse.GetValue(dtype)!);
            var clock = Stopwatch.StartNew();
            long bytes = 0;
            void Progress(string name, DType t)
            {
                if (!Console.IsErrorRedirected) Console.Error.Write($"\r{name} → {t}".PadRight(100));
            }
            if (target.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            {
                GgufCheckpointWriter.Write(source, target, new GgufWriteOptions { WeightType = type, Name = $"random {parse.GetValue(config)}", Progress = Progress });
                bytes = new FileInfo(target).Length;
            }
            else
            {
                HuggingFaceCheckpointWriter.Write(source, target, new HuggingFaceWriteOptions { WeightType = type, Progress = Progress });
                bytes = Directory.GetFiles(target).Sum(f => new FileInfo(f).Length);
            }
            if (!Console.IsErrorRedirected) Console.Error.WriteLine();
            Console.WriteLine($"wrote {target}: {shape.ModelType}, {shape.NumHiddenLayers} layers (+{(shape.Architecture == ModelArchitecture.DeepSeek ? shape.NumNextnPredictLayers : 0)} MTP), " +
                              $"{shape.ParameterCount() / 1e9:F2}B parameters, {bytes / 1e9:F2} GB, {type}, in {clock.Elapsed.TotalSeconds:F1} s");
        }));
        return command;
    }
}
