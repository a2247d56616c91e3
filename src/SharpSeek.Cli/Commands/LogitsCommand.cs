using System.CommandLine;
using System.Globalization;
using System.Text;
using SharpSeek.Checkpoints;
using SharpSeek.Formats;
using SharpSeek.Inference;
using SharpSeek.Model;
using SharpSeek.Tensors.Backend;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek logits --model PATH --tokens 1,5,9</c>: runs the tokens through the model from an empty context and
/// prints exactly one JSON object, <c>{"logits": [[...], ...]}</c>, one row of raw logits per position (for comparing
/// with other engines).
/// </summary>
internal static class LogitsCommand
{
    internal static readonly Option<string?> ModelOption = new("--model", "-m") { Description = $"GGUF file or HF safetensors directory (default: the bundled model, {BundledModel.RelativePath})" };
    internal static readonly Option<int> ThreadsOption = new("--threads", "-t") { Description = "compute threads (default: all cores)", DefaultValueFactory = _ => ComputePool.DefaultThreadCount() };
    internal static readonly Option<string> AttentionOption = new("--attention") { Description = "MLA form for DeepSeek models: absorbed (latent cache) or naive", DefaultValueFactory = _ => "absorbed" };

    public static Command Create()
    {
        var tokens = new Option<string>("--tokens") { Description = "token ids, comma-separated", Required = true };
        var command = new Command("logits", "Print the raw logits of every position as one JSON object {\"logits\": [[...], ...]}")
        {
            ModelOption, tokens, ThreadsOption, AttentionOption,
        };
        command.SetAction(parse => Run(() =>
        {
            int[] ids = ParseTokenIds(parse.GetValue(tokens)!, "--tokens");
            using var checkpoint = OpenModel(parse);
            using var pool = new ComputePool(parse.GetValue(ThreadsOption));
            using var model = checkpoint.CreateModel(Options(parse, pool));
            int v = model.Config.VocabSize;
            using var session = model.CreateSession(ids.Length, maxBatch: Math.Min(ids.Length, 256));
            var logits = new float[(long)ids.Length * v];
            session.Forward(ids, logits, LogitsFor.AllPositions);

            var json = new StringBuilder(ids.Length * v * 12);
            json.Append("{\"logits\": [");
            for (int p = 0; p < ids.Length; p++)
            {
                json.Append(p == 0 ? "[" : ", [");
                for (int i = 0; i < v; i++)
                {
                    if (i > 0) json.Append(", ");
                    float x = logits[(long)p * v + i];
                    json.Append(float.IsFinite(x) ? x.ToString("R", CultureInfo.InvariantCulture) : "null");
                }
                json.Append(']');
            }
            json.Append("]}");
            Console.Out.WriteLine(json.ToString());
        }));
        return command;
    }

    /// <summary>Model options from the shared --attention option, running on <paramref name="pool"/>.</summary>
    internal static ModelOptions Options(ParseResult parse, ComputePool pool) => new()
    {
        Backend = new CpuBackend(pool),
        Attention = parse.GetValue(AttentionOption) switch
        {
            "absorbed" => AttentionMode.Absorbed,
            "naive" => AttentionMode.Naive,
            var other => throw new ArgumentException($"--attention must be absorbed or naive, not '{other}'"),
        },
    };

    /// <summary>"1,5,9" (or whitespace-separated) → ids; throws naming the option and the bad entry.</summary>
    internal static int[] ParseTokenIds(string text, string what)
    {
        var parts = text.Split([',', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new ArgumentException($"{what}: no token ids given");
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
                throw new ArgumentException($"{what}: '{parts[i]}' (entry {i + 1}) is not a token id");
        return ids;
    }

    /// <summary>The checkpoint named by --model, or the bundled model when the option is left out.</summary>
    internal static Checkpoint OpenModel(ParseResult parse)
    {
        string path = parse.GetValue(ModelOption) ?? BundledModel.Locate()
            ?? throw new ArgumentException($"no --model given and the bundled model ({BundledModel.RelativePath}) was not found from the current directory or the program's folder");
        return Checkpoint.Open(path);
    }

    /// <summary>Runs a command body, turning the errors a user can cause (bad file, bad option) into one line and exit code 1.</summary>
    internal static int Run(Action body)
    {
        try
        {
            body();
            return 0;
        }
        catch (Exception e) when (e is InvalidModelFileException or ArgumentException or IOException or NotSupportedException
                                       or ModelConfigException or InvalidDataException or UnauthorizedAccessException or ModelLoadException)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 1;
        }
    }
}
