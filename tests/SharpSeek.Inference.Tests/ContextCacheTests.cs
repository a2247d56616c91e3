namespace SharpSeek.Inference.Tests;

public sealed class ContextCacheTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    private static readonly SamplingSettings Greedy = new() { Temperature = 0 };

    private static async Task<GenerationResult> Run(InferenceEngine engine, int[] prompt, int maxTokens = 24)
    {
        Assert.True(engine.TrySubmit(new GenerationRequest { PromptTokens = prompt, Sampling = Greedy, MaxTokens = maxTokens }, default, out var stream));
        return await stream.CollectAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }

    private int[] LongPrompt(int tokens, string seed)
    {
        var text = string.Concat(Enumerable.Range(0, tokens).Select(i => (char)('a' + (i * 7 + seed.Length * 3 + seed[i % seed.Length]) % 26)));
        var ids = fixture.Served.Tokenizer.Encode(text);
        Assert.Equal(tokens, ids.Length);
        return ids;
    }

    [Fact]
    public void Cacheable_prefix_is_whole_blocks_and_leaves_the_last_token()
    {
        Assert.Equal(0, ContextCache.CacheablePrefix(63));
        Assert.Equal(0, ContextCache.CacheablePrefix(64));
        Assert.Equal(64, ContextCache.CacheablePrefix(65));
        Assert.Equal(1984, ContextCache.CacheablePrefix(2000));
    }

    [Fact]
    public async Task Repeated_prompt_hits_whole_blocks_and_gives_the_same_output()
    {
        using var cache = new ContextCache();
        using var engine = fixture.CreateEngine(cache: cache);
        var prompt = LongPrompt(300, "repeat");
        var first = await Run(engine, prompt);
        var second = await Run(engine, prompt);
        Assert.Equal(0, first.Usage.CachedPromptTokens);
        Assert.Equal(256, second.Usage.CachedPromptTokens);
        Assert.Equal(44, second.Usage.PromptCacheMissTokens);
        Assert.Equal(first.Content, second.Content);
        Assert.Equal(fixture.GreedyReference(prompt, 24), second.Content);

        // A prompt sharing only the first 130 tokens hits the first two blocks.
        var branch = prompt[..130].Concat(LongPrompt(100, "other")).ToArray();
        var third = await Run(engine, branch);
        Assert.Equal(128, third.Usage.CachedPromptTokens);
        Assert.Equal(fixture.GreedyReference(branch, 24), third.Content);
    }

    [Fact]
    public async Task Short_prompts_are_never_cached()
    {
        using var cache = new ContextCache();
        using var engine = fixture.CreateEngine(cache: cache);
        var prompt = LongPrompt(63, "short");
        await Run(engine, prompt);
        var again = await Run(engine, prompt);
        Assert.Equal(0, again.Usage.CachedPromptTokens);
        // A finished request indexes its whole pages (prompt and answer, for the next turn); nothing shorter than a page.
        Assert.True(cache.StoredBlocks <= (prompt.Length + again.Usage.CompletionTokens) / ContextCache.BlockTokens);
    }

    [Fact]
    public async Task Blocks_on_disk_survive_a_restart_and_other_models_do_not_hit_them()
    {
        string dir = TinyModelFixture.TempDirectory();
        var prompt = LongPrompt(200, "disk");
        string expected;
        using (var cache = new ContextCache(new ContextCacheOptions { Directory = dir }))
        using (var engine = fixture.CreateEngine(cache: cache))
        {
            expected = (await Run(engine, prompt)).Content;
            await cache.FlushAsync();
        }
        Assert.Equal(3, Directory.EnumerateFiles(dir, "*.kvb", SearchOption.AllDirectories).Count());

        using (var cache = new ContextCache(new ContextCacheOptions { Directory = dir }))
        using (var engine = fixture.CreateEngine(cache: cache))
        {
            var hit = await Run(engine, prompt);
            Assert.Equal(192, hit.Usage.CachedPromptTokens);
            Assert.Equal(3, cache.DiskReads);
            Assert.Equal(expected, hit.Content);
        }

        using (var cache = new ContextCache(new ContextCacheOptions { Directory = dir }))
        using (var engine = new InferenceEngine(fixture.Served.Model, fixture.Served.Tokenizer, "some-other-model", new EngineOptions { MaxContext = 1024 }, cache))
        {
            var miss = await Run(engine, prompt);
            Assert.Equal(0, miss.Usage.CachedPromptTokens);
        }
    }

    [Fact]
    public async Task Corrupt_block_files_are_misses_not_crashes()
    {
        string dir = TinyModelFixture.TempDirectory();
        var prompt = LongPrompt(140, "corrupt");
        using (var cache = new ContextCache(new ContextCacheOptions { Directory = dir }))
        using (var engine = fixture.CreateEngine(cache: cache))
        {
            await Run(engine, prompt);
            await cache.FlushAsync();
        }
        foreach (var f in Directory.EnumerateFiles(dir, "*.kvb", SearchOption.AllDirectories))
            File.WriteAllBytes(f, new byte[100]);
        using (var cache = new ContextCache(new ContextCacheOptions { Directory = dir }))
        using (var engine = fixture.CreateEngine(cache: cache))
        {
            var result = await Run(engine, prompt);
            Assert.Equal(0, result.Usage.CachedPromptTokens);
            Assert.Equal(fixture.GreedyReference(prompt, 24), result.Content);
        }
    }
}
