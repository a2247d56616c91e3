using System.CommandLine;
using System.Diagnostics;
using System.Text;
using SharpSeek.Checkpoints;
using SharpSeek.Inference;
using SharpSeek.Model;
using SharpSeek.Tensors.Threading;
using SharpSeek.Tokenizer;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek generate --model PATH (--prompt TEXT | --prompt-tokens 1,2,3) --max-tokens N --temperature T</c>:
/// continues a prompt through the inference engine, streaming the text (or printing the ids, when the model has no
/// tokenizer) to stdout, and reports prefill and decode speed on stderr.
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
        var noSpeculation = new Option<bool>("--no-speculative") { Description = "turn off MTP self-speculative decoding" };
        var command = new Command("generate", "Continue a prompt and report prefill and decode tokens/s")
        {
            LogitsCommand.ModelOption, prompt, promptTokens, maxTokens, temperature, topK, topP, seed, ignoreEos, printIds, noSpeculation,
            LogitsCommand.ThreadsOption, LogitsCommand.AttentionOption,
        };
        command.SetAction(parse => LogitsCommand.Run(() =>
        {
            string? text = parse.GetValue(prompt), ids = parse.GetValue(promptTokens);
            if ((text is null) == (ids is null)) throw new ArgumentException("give exactly one of --prompt and --prompt-tokens");
            int count = parse.GetValue(maxTokens);
            if (count < 1) throw new ArgumentException("--max-tokens must be at least 1");
            var sampling = new SamplingSettings { Temperature = parse.GetValue(temperature), TopK = parse.GetValue(topK), TopP = parse.GetValue(topP), Seed = parse.GetValue(seed) };
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
            // The same engine that serves the API, for one sequence (MTP speculation included when the model has a head).
            using var engine = new InferenceEngine(model, tokenizer, "generate", new EngineOptions
            {
                MaxConcurrentSequences = 1,
                MaxQueuedRequests = 0,
                MaxContext = promptIds.Length + count + 1,
                PrefillChunkTokens = 256,
                SpeculativeDecoding = !parse.GetValue(noSpeculation),
            });
            bool printTokens = parse.GetValue(printIds) || tokenizer is null;
            var request = new GenerationRequest
            {
                PromptTokens = promptIds,
                MaxTokens = count,
                Sampling = sampling,
                // A plain continuation: the model's own distribution, no chat-format rules.
                RawSampling = true,
                IgnoreEndOfSequence = parse.GetValue(ignoreEos),
                ReturnTokens = true,
                UseContextCache = false,
            };
            if (!engine.TrySubmit(request, CancellationToken.None, out var stream)) throw new InvalidOperationException("the engine refused the request");
            var output = Console.Out;
            foreach (var delta in stream.Deltas.ReadAllAsync().ToBlockingEnumerable())
                if (!printTokens)
                {
                    output.Write(delta.Text);
                    output.Flush();
                }
            var result = stream.Completion.GetAwaiter().GetResult();
            if (result.FinishReason == FinishReason.Error) throw new InvalidOperationException(result.Error);
            int[] generated = result.Tokens ?? [];
            // The end-of-text token ends the output and is not printed.
            int shown = generated.Length > 0 && generated[^1] == engine.EndOfSequenceToken && !request.IgnoreEndOfSequence ? generated.Length - 1 : generated.Length;
            if (printTokens) output.Write(string.Join(",", generated.Take(shown)));
            output.WriteLine();
            double prefillSeconds = result.TimeToFirstToken.TotalSeconds, decodeSeconds = (result.GenerationTime - result.TimeToFirstToken).TotalSeconds;
            // The first token comes from the prefill; decode speed counts the tokens that needed a forward pass of their own.
            int decoded = generated.Length - 1;
            string speculation = result.Usage.DraftedTokens > 0
                ? $", MTP drafts accepted {result.Usage.AcceptedDraftTokens}/{result.Usage.DraftedTokens}"
                : "";
            Console.Error.WriteLine($"prompt: {promptIds.Length} tokens in {prefillSeconds:F3} s ({promptIds.Length / prefillSeconds:F1} tokens/s); " +
                                    $"generated: {generated.Length} tokens, decode {(decoded > 0 ? $"{decoded / decodeSeconds:F2} tokens/s" : "n/a")}{speculation} " +
                                    $"({model.Config.ModelType}, {checkpoint.Format}, {pool.ThreadCount} threads)");
        }));
        return command;
    }
}
