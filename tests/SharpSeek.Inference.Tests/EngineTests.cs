using System.Diagnostics;
using System.Text.Json;

namespace SharpSeek.Inference.Tests;

public sealed class EngineTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    private static readonly SamplingSettings Greedy = new() { Temperature = 0 };

    private int[] Prompt(string text) => fixture.Served.Tokenizer.Encode(text);

    private static async Task<GenerationResult> Run(InferenceEngine engine, GenerationRequest request, CancellationToken ct = default)
    {
        Assert.True(engine.TrySubmit(request, ct, out var stream));
        return await stream.CollectAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Greedy_generation_matches_a_plain_session_run()
    {
        using var engine = fixture.CreateEngine();
        var prompt = Prompt("The quick brown fox");
        var result = await Run(engine, new GenerationRequest { PromptTokens = prompt, Sampling = Greedy, MaxTokens = 40 });
        Assert.Equal(fixture.GreedyReference(prompt, 40), result.Content);
        Assert.Equal(prompt.Length, result.Usage.PromptTokens);
        Assert.InRange(result.Usage.CompletionTokens, 1, 40);
        if (result.FinishReason == FinishReason.Length) Assert.Equal(40, result.Usage.CompletionTokens);
    }

    [Fact]
    public async Task Concurrent_sequences_do_not_disturb_each_other()
    {
        using var engine = fixture.CreateEngine(new EngineOptions { MaxConcurrentSequences = 4, MaxContext = 1024, PrefillChunkTokens = 16, SpeculativeDecoding = false });
        var prompts = new[] { "alpha beta gamma delta epsilon zeta eta theta", "one", "a somewhat longer prompt that needs several prefill chunks to get through it", "zz" };
        var tasks = prompts.Select(p => Run(engine, new GenerationRequest { PromptTokens = Prompt(p), Sampling = Greedy, MaxTokens = 30 })).ToArray();
        var results = await Task.WhenAll(tasks);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(fixture.GreedyReference(Prompt(prompts[i]), 30), results[i].Content);
    }

    [Fact]
    public async Task Seeded_sampling_repeats_and_different_seeds_differ()
    {
        using var engine = fixture.CreateEngine();
        var prompt = Prompt("seeded");
        GenerationRequest Req(ulong seed) => new() { PromptTokens = prompt, Sampling = new SamplingSettings { Temperature = 1.5f, Seed = seed }, MaxTokens = 32, UseContextCache = false };
        var a = await Run(engine, Req(1));
        var b = await Run(engine, Req(1));
        var c = await Run(engine, Req(2));
        Assert.Equal(a.Content, b.Content);
        Assert.NotEqual(a.Content + a.Usage.CompletionTokens, c.Content + c.Usage.CompletionTokens);
    }

    [Fact]
    public async Task Max_tokens_ends_with_length()
    {
        using var engine = fixture.CreateEngine();
        // Sampling with a huge presence penalty on EOS is not available, so draw until length with many seeds.
        var result = await Run(engine, new GenerationRequest { PromptTokens = Prompt("x"), Sampling = new SamplingSettings { Temperature = 0.01f, Seed = 3 }, MaxTokens = 3 });
        Assert.True(result.Usage.CompletionTokens <= 3);
        if (result.Usage.CompletionTokens == 3) Assert.Equal(FinishReason.Length, result.FinishReason);
    }

    [Fact]
    public async Task Reasoning_comes_first_and_the_budget_closes_it()
    {
        using var engine = fixture.CreateEngine();
        var prompt = engine.Prompts.Format([new PromptMessage("user", "why?")], ChatMode.Reasoner);
        Assert.True(prompt.StartsInReasoning);
        Assert.True(engine.TrySubmit(new GenerationRequest
        {
            PromptTokens = prompt.Tokens, StartsInReasoning = true, MaxReasoningTokens = 6, MaxTokens = 30,
            Sampling = new SamplingSettings { Seed = 11 },
        }, default, out var stream));
        var channels = new List<OutputChannel>();
        await foreach (var d in stream.Deltas.ReadAllAsync()) if (d.Text.Length > 0) channels.Add(d.Channel);
        var result = await stream.Completion;
        Assert.True(result.Usage.ReasoningTokens <= 6);
        if (result.Usage.CompletionTokens > 6)
        {
            Assert.Equal(6, result.Usage.ReasoningTokens);
            // Once content starts, no reasoning follows.
            int firstContent = channels.IndexOf(OutputChannel.Content);
            if (firstContent >= 0) Assert.DoesNotContain(OutputChannel.Reasoning, channels.Skip(firstContent));
        }
        Assert.DoesNotContain("</think>", result.Reasoning + result.Content);
    }

    [Fact]
    public async Task Stop_string_cuts_the_content()
    {
        using var engine = fixture.CreateEngine();
        var prompt = Prompt("stop test");
        var free = await Run(engine, new GenerationRequest { PromptTokens = prompt, Sampling = Greedy, MaxTokens = 40 });
        Assert.True(free.Content.Length >= 6, $"greedy output too short to test stops: '{free.Content}'");
        string stop = free.Content.Substring(3, 2);
        int cut = free.Content.IndexOf(stop, StringComparison.Ordinal);
        var stopped = await Run(engine, new GenerationRequest { PromptTokens = prompt, Sampling = Greedy, MaxTokens = 40, StopStrings = [stop] });
        Assert.Equal(free.Content[..cut], stopped.Content);
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public async Task Json_mode_produces_a_json_object_prefix_and_parses_when_complete()
    {
        using var engine = fixture.CreateEngine();
        for (ulong seed = 1; seed <= 6; seed++)
        {
            var result = await Run(engine, new GenerationRequest { PromptTokens = Prompt("json please"), Sampling = new SamplingSettings { Seed = seed }, MaxTokens = 120, JsonContent = true });
            Assert.StartsWith("{", result.Content);
            var recognizer = new JsonValueRecognizer();
            Assert.True(recognizer.TryFeed(System.Text.Encoding.UTF8.GetBytes(result.Content)), result.Content);
            if (result.FinishReason == FinishReason.Stop)
            {
                Assert.True(recognizer.IsComplete);
                using var doc = JsonDocument.Parse(result.Content);
                Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
            }
        }
    }

    [Fact]
    public async Task Cancellation_stops_generation_promptly()
    {
        // A generation long enough to be cancelled mid-way (the tiny model finishes a thousand tokens in a blink).
        using var served = ServedModel.CreateRandom(RandomModelSize.Small, seed: 3, maxPositions: 16384);
        using var engine = new InferenceEngine(served.Model, served.Tokenizer, served.Identity,
            new EngineOptions { MaxContext = 16384, DefaultMaxReasoningTokens = 100000, SpeculativeDecoding = false });
        using var cts = new CancellationTokenSource();
        var prompt = engine.Prompts.Format([new PromptMessage("user", "think long")], ChatMode.Reasoner);
        Assert.True(engine.TrySubmit(new GenerationRequest { PromptTokens = prompt.Tokens, StartsInReasoning = true, MaxTokens = 16000, IgnoreEndOfSequence = true, Sampling = new SamplingSettings { Seed = 5 } }, cts.Token, out var stream));
        await stream.Started;
        await stream.Deltas.WaitToReadAsync();
        var sw = Stopwatch.StartNew();
        cts.Cancel();
        var result = await stream.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(FinishReason.Cancelled, result.FinishReason);
        Assert.True(result.Usage.CompletionTokens < 16000);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Past_capacity_submissions_are_refused_and_queued_ones_start_later()
    {
        // A model and a request big enough that the first generation is still running when the checks are made
        // (the tiny model writes a thousand tokens in a blink); it is cancelled, never run to the end.
        using var served = ServedModel.CreateRandom(RandomModelSize.Small, seed: 3, maxPositions: 16384);
        using var engine = new InferenceEngine(served.Model, served.Tokenizer, served.Identity,
            new EngineOptions { MaxConcurrentSequences = 1, MaxQueuedRequests = 1, MaxContext = 16384, DefaultMaxReasoningTokens = 100000, SpeculativeDecoding = false });
        using var cts = new CancellationTokenSource();
        var prompt = engine.Prompts.Format([new PromptMessage("user", "busy")], ChatMode.Reasoner);
        var longRequest = new GenerationRequest { PromptTokens = prompt.Tokens, StartsInReasoning = true, MaxTokens = 16000, IgnoreEndOfSequence = true, Sampling = new SamplingSettings { Seed = 5 } };
        Assert.True(engine.TrySubmit(longRequest, cts.Token, out var first));
        await first.Started;
        Assert.True(engine.TrySubmit(new GenerationRequest { PromptTokens = Prompt("q"), MaxTokens = 2 }, default, out var queued));
        Assert.False(engine.TrySubmit(new GenerationRequest { PromptTokens = Prompt("r"), MaxTokens = 2 }, default, out _));
        Assert.False(queued.Started.IsCompleted);
        cts.Cancel();
        Assert.True(await queued.Started.WaitAsync(TimeSpan.FromSeconds(10)));
        await queued.CollectAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, engine.RefusedRequests);
    }

    [Fact]
    public async Task Speculative_decoding_with_the_mtp_head_gives_the_same_greedy_text()
    {
        Assert.True(fixture.Served.Model.MtpDepth > 0);
        using var plain = fixture.CreateEngine();
        using var speculative = fixture.CreateEngine(new EngineOptions { MaxContext = 1024, SpeculativeDecoding = true });
        Assert.True(speculative.SupportsSpeculation);
        bool first = true;
        foreach (string text in new[] { "speculate on this", "another prompt for the draft head" })
        {
            var req = new GenerationRequest { PromptTokens = Prompt(text), Sampling = Greedy, MaxTokens = 60 };
            var a = await Run(plain, req);
            var b = await Run(speculative, req);
            Assert.Equal(a.Content, b.Content);
            Assert.Equal(a.Usage.CompletionTokens, b.Usage.CompletionTokens);
            // The first request drafts; once this untrained head's drafts are seen to miss, later ones may not start.
            if (first && b.Usage.CompletionTokens > 2) Assert.True(b.Usage.DraftedTokens > 0);
            first = false;
        }
        Assert.InRange(speculative.DraftAcceptanceRate, 0, 1);
    }
}
