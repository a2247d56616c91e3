using System.CommandLine;
using System.Text;
using SharpSeek.Inference;

namespace SharpSeek.Cli.Commands;

/// <summary>
/// <c>sharpseek chat</c>: a terminal REPL over the in-process engine, streaming the answer as it is generated.
/// <c>/think</c> toggles DeepThink (reasoning shown dimmed before the answer), <c>/new</c> starts over, <c>/exit</c> quits.
/// </summary>
internal static class ChatCommand
{
    public static Command Create()
    {
        var think = new Option<bool?>("--think") { Description = "start with DeepThink (the reasoner) on or off (--think false); default: on for a model trained only to reason (its own template is R1's), else off" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "most tokens per answer", DefaultValueFactory = _ => 512 };
        var temperature = new Option<float>("--temperature") { Description = "sampling temperature (0 = greedy)", DefaultValueFactory = _ => 0.7f };
        var command = new Command("chat", "Chat in the terminal with streaming answers; /think toggles reasoning, /new clears, /exit quits")
        {
            think, maxTokens, temperature, ServeCommand.ModelOption, ServeCommand.TokenizerOption, ServeCommand.RandomOption,
            ServeCommand.SizeOption, ServeCommand.SeedOption, ServeCommand.ContextOption,
        };
        command.SetAction(async (parse, ct) =>
        {
            ChosenModel chosen;
            try { chosen = ServeCommand.Choice(parse).Load(); }
            catch (ModelLoadException e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return 1;
            }
            using var served = chosen.Served;
            if (chosen.FallbackNotice is { } notice) Console.WriteLine(notice);
            using var engine = new InferenceEngine(served.Model, served.Tokenizer, served.Identity,
                new EngineOptions { MaxConcurrentSequences = 1, MaxQueuedRequests = 0, MaxContext = served.MaxPositions });
            Console.WriteLine($"Model: {served.Description}");
            return await Repl(engine, parse.GetValue(think), parse.GetValue(maxTokens), parse.GetValue(temperature), ct);
        });
        return command;
    }

    private static async Task<int> Repl(InferenceEngine engine, bool? thinkOption, int maxTokens, float temperature, CancellationToken ct)
    {
        Console.OutputEncoding = Encoding.UTF8;
        bool color = !Console.IsOutputRedirected;
        string dim = color ? "\u001b[2m" : "", reset = color ? "\u001b[0m" : "";
        var history = new List<PromptMessage>();
        bool canThink = engine.Prompts.SupportsReasoning;
        bool think = thinkOption ?? (canThink && engine.Prompts.ThinksByDefault);
        if (thinkOption is null && think)
            Console.WriteLine("(DeepThink starts on: this model was trained to reason before it answers; /think turns it off)");
        const string NoReasoning = "(this model's tokenizer has no <think>/</think> tokens, so DeepThink stays off)";
        if (think && !canThink) { Console.WriteLine(NoReasoning); think = false; }
        Console.WriteLine($"SharpSeek chat ({engine.ModelIdentity}). DeepThink {(think ? "on" : "off")}: /think toggles, /new clears, /exit quits.");
        while (!ct.IsCancellationRequested)
        {
            Console.Write(think ? "[think] > " : "> ");
            string? line = Console.ReadLine();
            if (line is null || line.Trim() == "/exit") break;
            line = line.Trim();
            if (line.Length == 0) continue;
            if (line == "/think" && !canThink) { Console.WriteLine(NoReasoning); continue; }
            if (line == "/think") { think = !think; Console.WriteLine($"DeepThink {(think ? "on" : "off")}"); continue; }
            if (line == "/new") { history.Clear(); Console.WriteLine("(new conversation)"); continue; }

            history.Add(new PromptMessage("user", line));
            FormattedPrompt prompt;
            try { prompt = engine.Prompts.Format(history, think ? ChatMode.Reasoner : ChatMode.Chat); }
            catch (ArgumentException e)
            {
                Console.WriteLine($"({e.Message})");
                history.RemoveAt(history.Count - 1);
                continue;
            }
            int room = engine.Options.MaxContext - prompt.Tokens.Length;
            if (room < 1)
            {
                Console.WriteLine("(the conversation is longer than the context; /new starts over)");
                history.RemoveAt(history.Count - 1);
                continue;
            }
            var request = new GenerationRequest
            {
                PromptTokens = prompt.Tokens,
                StartsInReasoning = prompt.StartsInReasoning,
                MaxTokens = Math.Min(maxTokens, room),
                Sampling = new SamplingSettings { Temperature = temperature },
            };
            // Ctrl+C during an answer stops that answer.
            using var answerCancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
            ConsoleCancelEventHandler stop = (_, e) => { e.Cancel = true; answerCancel.Cancel(); };
            Console.CancelKeyPress += stop;
            try
            {
                if (!engine.TrySubmit(request, answerCancel.Token, out var stream)) { Console.WriteLine("(busy)"); continue; }
                OutputChannel? last = null;
                await foreach (var d in stream.Deltas.ReadAllAsync(CancellationToken.None))
                {
                    if (d.Channel != last)
                    {
                        Console.Write(d.Channel == OutputChannel.Reasoning ? dim + "Thinking: " : (last == OutputChannel.Reasoning ? reset + "\n" : ""));
                        last = d.Channel;
                    }
                    Console.Write(d.Text);
                }
                var result = await stream.Completion;
                if (last == OutputChannel.Reasoning) Console.Write(reset);
                var u = result.Usage;
                Console.WriteLine($"\n{dim}[{u.PromptTokens} prompt ({u.CachedPromptTokens} cached), {u.CompletionTokens} output, {u.ReasoningTokens} reasoning, {result.FinishReason.ToString().ToLowerInvariant()}]{reset}");
                history.Add(new PromptMessage("assistant", result.Content));
            }
            finally { Console.CancelKeyPress -= stop; }
        }
        return 0;
    }
}
