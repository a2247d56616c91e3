using SharpSeek.Model;
using Xunit.Abstractions;

namespace SharpSeek.Inference.Tests;

/// <summary>
/// The continuous-batching engine: many sequences share each forward pass, pages run out and sequences are preempted,
/// cached prompt pages are shared — and none of it changes what a request gets.
/// </summary>
public sealed class BatchedEngineTests(TinyModelFixture fixture, ITestOutputHelper output) : IClassFixture<TinyModelFixture>
{
    private static readonly SamplingSettings Greedy = new() { Temperature = 0 };

    private int[] Prompt(string text) => fixture.Served.Tokenizer.Encode(text);

    /// <summary>Sixteen prompts of different lengths (1 to ~300 tokens).</summary>
    private int[][] Prompts() => Enumerable.Range(0, 16)
        .Select(i => Prompt(string.Concat(Enumerable.Repeat($"request {i} says {(char)('a' + i)} ", 1 + i * i % 23))))
        .ToArray();

    private static async Task<GenerationResult[]> RunAll(InferenceEngine engine, IEnumerable<GenerationRequest> requests)
    {
        var streams = requests.Select(r =>
        {
            Assert.True(engine.TrySubmit(r, CancellationToken.None, out var s));
            return s;
        }).ToArray();
        return await Task.WhenAll(streams.Select(s => s.CollectAsync().WaitAsync(TimeSpan.FromSeconds(120))));
    }

    private static GenerationRequest Request(int[] prompt, int maxTokens, SamplingSettings? sampling = null) => new()
    {
        PromptTokens = prompt, MaxTokens = maxTokens, Sampling = sampling ?? Greedy, ReturnTokens = true, IgnoreEndOfSequence = true,
    };

    /// <summary>
    /// Sixteen requests in flight together — prefill chunks sharing steps with other requests' decoding — each get the
    /// very tokens they get alone, greedy and seeded-sampled alike.
    /// </summary>
    [Fact]
    public async Task Sixteen_requests_together_get_the_tokens_each_gets_alone()
    {
        var prompts = Prompts();
        var sampled = new SamplingSettings { Temperature = 0.9f, Seed = 5 };
        var requests = prompts.Select((p, i) => Request(p, 24, i % 2 == 0 ? Greedy : sampled with { Seed = (ulong)i })).ToArray();

        var alone = new List<GenerationResult>();
        using (var single = fixture.CreateEngine(new EngineOptions { MaxConcurrentSequences = 1, MaxContext = 1024, SpeculativeDecoding = false }))
            foreach (var r in requests) alone.Add((await RunAll(single, [r]))[0]);

        using var engine = fixture.CreateEngine(new EngineOptions
        {
            MaxConcurrentSequences = 16, MaxContext = 1024, PrefillChunkTokens = 32, MaxBatchTokens = 96, SpeculativeDecoding = false,
        });
        var together = await RunAll(engine, requests);
        output.WriteLine($"{engine.Steps} steps, {(double)engine.BatchRows / engine.Steps:F1} rows per step");
        Assert.True((double)engine.BatchRows / engine.Steps > 4, "the requests did not share forward passes");
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(alone[i].Tokens, together[i].Tokens);
            Assert.Equal(alone[i].Content, together[i].Content);
        }
    }

    /// <summary>
    /// With pages for about two of four sequences, the engine preempts the newest when memory runs out, recomputes
    /// it later, and every request still completes with the tokens it gets alone.
    /// </summary>
    [Fact]
    public async Task Running_out_of_pages_preempts_and_the_requests_still_complete_with_the_same_tokens()
    {
        var prompts = Enumerable.Range(0, 4).Select(i => Prompt(string.Concat(Enumerable.Repeat($"{i} memory pressure ", 8)))).ToArray();
        var requests = prompts.Select(p => Request(p, 100)).ToArray();
        var alone = new List<GenerationResult>();
        using (var single = fixture.CreateEngine(new EngineOptions { MaxConcurrentSequences = 1, MaxContext = 1024, SpeculativeDecoding = false }))
            foreach (var r in requests) alone.Add((await RunAll(single, [r]))[0]);

        long page = KvPagePool.PageBytesFor(fixture.Served.Model);
        int needed = (prompts[0].Length + 100 + 63) / 64;
        using var engine = fixture.CreateEngine(new EngineOptions
        {
            MaxConcurrentSequences = 4, MaxContext = 1024, SpeculativeDecoding = false, KvMemoryBytes = (2 * needed + 1) * page,
        });
        Assert.Equal(2 * needed + 1, engine.KvPages);
        var results = await RunAll(engine, requests);
        output.WriteLine($"{engine.KvPages} pages for 4 sequences of {needed} pages: {engine.Preemptions} preemptions");
        Assert.True(engine.Preemptions > 0, "memory was never short; the test would not show preemption");
        Assert.Contains(results, r => r.Preemptions > 0);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(FinishReason.Length, results[i].FinishReason);
            Assert.Equal(alone[i].Tokens, results[i].Tokens);
        }
        Assert.Equal(0, engine.KvPagesUsed);
    }

    /// <summary>A second request with a cached prompt adopts its pages (a hit) and still produces the same tokens.</summary>
    [Fact]
    public async Task A_cached_prompt_is_shared_and_gives_the_same_tokens()
    {
        using var cache = new ContextCache();
        using var engine = fixture.CreateEngine(new EngineOptions { MaxConcurrentSequences = 4, MaxContext = 1024, SpeculativeDecoding = false }, cache);
        var prompt = Prompt(string.Concat(Enumerable.Repeat("a prompt long enough for three pages ", 6)));
        Assert.True(prompt.Length > 128);
        var first = (await RunAll(engine, [Request(prompt, 16)]))[0];
        var second = (await RunAll(engine, [Request(prompt, 16)]))[0];
        Assert.Equal(0, first.Usage.CachedPromptTokens);
        Assert.Equal(ContextCache.CacheablePrefix(prompt.Length), second.Usage.CachedPromptTokens);
        Assert.Equal(first.Tokens, second.Tokens);
        // Only the index holds pages now.
        Assert.Equal(cache.MemoryBytesUsed / KvPagePool.PageBytesFor(fixture.Served.Model), engine.KvPagesUsed);
    }

    /// <summary>
    /// A finished request indexes its answer's pages too, so the next turn of a conversation (history + answer + a new
    /// message) hits past the first prompt.
    /// </summary>
    [Fact]
    public async Task The_next_turn_hits_the_previous_answer()
    {
        using var cache = new ContextCache();
        using var engine = fixture.CreateEngine(new EngineOptions { MaxContext = 1024, SpeculativeDecoding = false }, cache);
        var prompt = Prompt(string.Concat(Enumerable.Repeat("first turn ", 10)));
        var first = (await RunAll(engine, [Request(prompt, 120)]))[0];
        int[] next = [.. prompt, .. first.Tokens!, .. Prompt(" and a follow-up question")];
        var second = (await RunAll(engine, [Request(next, 4)]))[0];
        output.WriteLine($"prompt {prompt.Length}, answer {first.Tokens!.Length}, second prompt {next.Length}: {second.Usage.CachedPromptTokens} cached");
        Assert.True(second.Usage.CachedPromptTokens > ContextCache.CacheablePrefix(prompt.Length),
            $"the second turn hit {second.Usage.CachedPromptTokens} tokens, no more than the first prompt's {ContextCache.CacheablePrefix(prompt.Length)}");
        Assert.Equal((prompt.Length + first.Tokens!.Length - 1) / 64 * 64, second.Usage.CachedPromptTokens);
    }

    /// <summary>Bad memory settings and prompts the memory cannot hold are refused with messages that say why.</summary>
    [Fact]
    public void Bad_kv_memory_settings_are_refused()
    {
        var m = fixture.Served;
        Assert.Throws<ArgumentOutOfRangeException>(() => new InferenceEngine(m.Model, m.Tokenizer, m.Identity, new EngineOptions { KvMemoryBytes = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InferenceEngine(m.Model, m.Tokenizer, m.Identity, new EngineOptions { KvMemoryBytes = -1 }));
        var tooSmall = Assert.Throws<ArgumentOutOfRangeException>(() => new InferenceEngine(m.Model, m.Tokenizer, m.Identity, new EngineOptions { KvMemoryBytes = 1000 }));
        Assert.Contains("holds no page", tooSmall.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new InferenceEngine(m.Model, m.Tokenizer, m.Identity,
            new EngineOptions { MaxConcurrentSequences = 8, MaxBatchTokens = 8 }));

        using var engine = fixture.CreateEngine(new EngineOptions { MaxContext = 1024, SpeculativeDecoding = false, KvMemoryBytes = 2 * KvPagePool.PageBytesFor(m.Model) });
        var e = Assert.Throws<ArgumentException>(() => engine.TrySubmit(Request(new int[200], 4), CancellationToken.None, out _));
        Assert.Contains("KV cache memory holds 128 positions", e.Message);
    }

    /// <summary>
    /// Speculation batched over several sequences at once gives each the tokens plain decoding gives; with an untrained
    /// head (acceptance near zero) each sequence stops drafting after one probe window. A request the engine admits
    /// after others have shown that drafts miss may not start speculating at all (the test thread can be descheduled
    /// between submissions on a busy box), so a request drafts between none and one window — and the engine drafts.
    /// </summary>
    [Fact]
    public async Task Batched_speculation_keeps_the_tokens_and_stops_when_drafts_miss()
    {
        var prompts = Prompts().Take(6).ToArray();
        var requests = prompts.Select(p => Request(p, 40)).ToArray();
        using var plain = fixture.CreateEngine(new EngineOptions { MaxConcurrentSequences = 6, MaxContext = 1024, SpeculativeDecoding = false });
        using var speculative = fixture.CreateEngine(new EngineOptions { MaxConcurrentSequences = 6, MaxContext = 1024, SpeculativeDecoding = true, DraftProbe = 4, MinDraftAcceptance = 0.9 });
        var a = await RunAll(plain, requests);
        var b = await RunAll(speculative, requests);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(a[i].Tokens, b[i].Tokens);
            Assert.InRange(b[i].Usage.DraftedTokens, 0, 4 + (b[i].Usage.AcceptedDraftTokens >= 4 ? 40 : 0));
        }
        Assert.True(b.Sum(r => r.Usage.DraftedTokens) > 0, "no request speculated");
        output.WriteLine($"acceptance {speculative.DraftAcceptanceRate:P0}, drafts per request: {string.Join(", ", b.Select(r => r.Usage.DraftedTokens))}");
    }

    /// <summary>A prompt restored from the context cache (with the MTP rows its pages hold) still speculates.</summary>
    [Fact]
    public async Task A_cache_hit_keeps_speculation()
    {
        using var cache = new ContextCache();
        // No acceptance judgement (a window longer than the generations): this untrained head would otherwise be
        // switched off before the second request, which is not what this test is about.
        using var engine = fixture.CreateEngine(new EngineOptions { MaxContext = 1024, SpeculativeDecoding = true, DraftProbe = 1000 }, cache);
        var prompt = Prompt(string.Concat(Enumerable.Repeat("speculate after a hit ", 10)));
        var first = (await RunAll(engine, [Request(prompt, 12)]))[0];
        var second = (await RunAll(engine, [Request(prompt, 12)]))[0];
        Assert.True(second.Usage.CachedPromptTokens >= 64);
        Assert.True(second.Usage.DraftedTokens > 0, "a cache hit turned speculation off");
        Assert.Equal(first.Tokens, second.Tokens);
    }
}
