using System.CommandLine;
using System.Diagnostics;
using System.Text;
using SharpSeek.Checkpoints;
using SharpSeek.Inference;
using SharpSeek.Model;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Threading;
using SharpSeek.Tokenizer;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek generate --model PATH (--prompt TEXT | --prompt-tokens 1,2,3) --max-tokens N --temperature T</c>:
/// continues a prompt, streaming the text (or the ids, when the model has no tokenizer) to stdout, and reports prefill
/// and decode speed on stderr.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var prompt = new Option<string?>("--prompt") { Description = "prompt text (needs a tokenizer: the GGUF's tokenizer.ggml.* or tokenizer.json beside the safetensors)" };
        var promptTokens = new Option<string?>("--prompt-tokens") { Description = "prompt as token ids, comma-separated" };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "tokens to generate", DefaultValueFactory = _ => 64 };
        var temperature = new Option<float>("--temperature") { Description = "sampling temperature (0 = greedy)", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "keep the k most likely tokens (0 = off)", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "keep the smallest set holding this probability mass", DefaultValueFactory = _ => 1f };
        var seed = new Option<ulong>("--seed") { Description = "sampling seed", DefaultValueFactory = _ => 0 };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "keep generating past the end-of-text token" };
        var printIds = new Option<bool>("--print-ids") { Description = "print the generated token ids (comma-separated) instead of text" };
        var command = new Command("generate", "Continue a prompt and report prefill and decode tokens/s")
        {
            LogitsCommand.ModelOption, prompt, promptTokens, maxTokens, temperature, topK, topP, seed, ignoreEos, printIds,
            LogitsCommand.ThreadsOption, LogitsCommand.AttentionOption,
        };
        command.SetAction(parse => LogitsCommand.Run(() =>
        {
            string? text = parse.GetValue(prompt), ids = parse.GetValue(promptTokens);
            if ((text is null) == (ids is null)) throw new ArgumentException("give exactly one of --prompt and --prompt-tokens");
            int count = parse.GetValue(maxTokens);
            if (count < 1) throw new ArgumentException("--max-tokens must be at least 1");
            var sampling = new SamplingOptions(parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP), parse.GetValue(seed));
            sampling.Validate();

            using var checkpoint = LogitsCommand.OpenModel(parse);
            // Text in needs the tokenizer (a missing one is an error naming what was looked for); token ids in only use it,
            // when there is one, to print text.
            ByteLevelBpeTokenizer? tokenizer;
            if (text is not null) tokenizer = CheckpointTokenizer.Resolve(checkpoint, null).Tokenizer;
            else
            {
                try { tokenizer = CheckpointTokenizer.Resolve(checkpoint, null).Tokenizer; }
                catch (ModelLoadException) { tokenizer = null; }
            }
            int[] promptIds;
            if (text is not null)
            {
                promptIds = tokenizer!.Encode(text, addSpecialTokens: true);
                if (promptIds.Length == 0) throw new ArgumentException("--prompt encodes to no tokens");
            }
            else promptIds = LogitsCommand.ParseTokenIds(ids!, "--prompt-tokens");

            using var pool = new ComputePool(parse.GetValue(LogitsCommand.ThreadsOption));
            using var model = checkpoint.CreateModel(LogitsCommand.Options(parse, pool));
            int vocab = model.Config.VocabSize;
            foreach (int id in promptIds)
                if ((uint)id >= (uint)vocab) throw new ArgumentException($"prompt token {id} is outside the model's vocabulary [0, {vocab})");
            using var session = model.CreateSession(promptIds.Length + count, maxBatch: Math.Min(promptIds.Length, 256));
            var sampler = new Sampler(vocab, sampling);
            int? eos = parse.GetValue(ignoreEos) ? null : tokenizer?.EosTokenId;
            var stream = parse.GetValue(printIds) ? null : tokenizer?.CreateStreamDecoder();
            var output = Console.Out;

            var clock = Stopwatch.StartNew();
            int next = sampler.Sample(session.Prefill(promptIds));
            double prefillSeconds = clock.Elapsed.TotalSeconds;
            clock.Restart();
            int generated = 0;
            while (true)
            {
                generated++;
                if (next == eos) break;
                if (stream is not null) output.Write(stream.Append(next));
                else output.Write(generated == 1 ? $"{next}" : $",{next}");
                output.Flush();
                if (generated == count) break;
                next = sampler.Sample(session.Decode(next));
            }
            double decodeSeconds = clock.Elapsed.TotalSeconds;
            if (stream is not null) output.Write(stream.Flush());
            output.WriteLine();
            // The first token comes from the prefill; decode speed counts the tokens that needed a forward pass of their own.
            int decoded = generated - 1;
            Console.Error.WriteLine($"prompt: {promptIds.Length} tokens in {prefillSeconds:F3} s ({promptIds.Length / prefillSeconds:F1} tokens/s); " +
                                    $"generated: {generated} tokens, decode {(decoded > 0 ? $"{decoded / decodeSeconds:F2} tokens/s" : "n/a")} " +
                                    $"({model.Config.ModelType}, {checkpoint.Format}, {pool.ThreadCount} threads)");
        }));
        return command;
    }
}
