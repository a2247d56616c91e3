using System.CommandLine;
using System.Diagnostics;
using SharpSeek.Checkpoints;
using SharpSeek.Model;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek perplexity --model PATH --tokens FILE</c>: the model's perplexity on a file of token ids, scored in
/// consecutive windows of --context tokens (each window starts from an empty cache; its first token is not scored).
/// </summary>
internal static class PerplexityCommand
{
    public static Command Create()
    {
        var tokens = new Option<string>("--tokens") { Description = "file of token ids (comma- or whitespace-separated)", Required = true };
        var context = new Option<int>("--context", "-c") { Description = "window length in tokens", DefaultValueFactory = _ => 512 };
        var command = new Command("perplexity", "Perplexity of the model on a file of token ids")
        {
            LogitsCommand.ModelOption, tokens, context, LogitsCommand.ThreadsOption, LogitsCommand.AttentionOption,
        };
        command.SetAction(parse => LogitsCommand.Run(() =>
        {
            string path = parse.GetValue(tokens)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"no token file at '{path}'", path);
            int[] ids = LogitsCommand.ParseTokenIds(File.ReadAllText(path), path);
            int window = parse.GetValue(context);
            if (window < 2) throw new ArgumentException("--context must be at least 2");
            if (ids.Length < 2) throw new ArgumentException($"{path}: perplexity needs at least 2 tokens, the file has {ids.Length}");

            using var checkpoint = LogitsCommand.OpenModel(parse);
            using var pool = new ComputePool(parse.GetValue(LogitsCommand.ThreadsOption));
            using var model = checkpoint.CreateModel(LogitsCommand.Options(parse, pool));
            int v = model.Config.VocabSize;
            foreach (int id in ids)
                if ((uint)id >= (uint)v) throw new ArgumentException($"{path}: token id {id} is outside the model's vocabulary [0, {v})");
            window = Math.Min(window, ids.Length);
            using var session = model.CreateSession(window, maxBatch: Math.Min(window, 256));
            var logits = new float[(long)window * v];
            double nll = 0;
            long scored = 0;
            var clock = Stopwatch.StartNew();
            for (int start = 0; start + 1 < ids.Length; start += window)
            {
                int n = Math.Min(window, ids.Length - start);
                if (n < 2) break;
                session.Reset();
                session.Forward(ids.AsSpan(start, n), logits, LogitsFor.AllPositions);
                for (int p = 0; p + 1 < n; p++) nll += NegativeLogLikelihood(logits.AsSpan(p * v, v), ids[start + p + 1]);
                scored += n - 1;
                if (!Console.IsErrorRedirected) Console.Error.Write($"\r{start + n}/{ids.Length} tokens, running perplexity {Math.Exp(nll / scored):F4}");
            }
            double seconds = clock.Elapsed.TotalSeconds;
            if (!Console.IsErrorRedirected) Console.Error.WriteLine();
            Console.WriteLine($"perplexity {Math.Exp(nll / scored):F6} over {scored} predicted tokens (windows of {window}); {ids.Length / seconds:F1} tokens/s");
        }));
        return command;
    }

    /// <summary>−log softmax(logits)[target], computed stably in double.</summary>
    private static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int target)
    {
        double max = double.NegativeInfinity;
        foreach (float x in logits) max = Math.Max(max, x);
        double sum = 0;
        foreach (float x in logits) sum += Math.Exp(x - max);
        return Math.Log(sum) + max - logits[target];
    }
}
