namespace SharpSeek.Inference.Tests;

/// <summary>Cache partitions (one per account on the server) and a disk write queue that overflows without hanging a flush.</summary>
public sealed class ContextCachePartitionTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    private static async Task<GenerationResult> Run(InferenceEngine engine, int[] prompt, string partition)
    {
        Assert.True(engine.TrySubmit(new GenerationRequest { PromptTokens = prompt, Sampling = new SamplingSettings { Temperature = 0 }, MaxTokens = 4, CachePartition = partition }, default, out var stream));
        return await stream.CollectAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }

    private int[] Prompt(int tokens, char c)
    {
        var ids = fixture.Served.Tokenizer!.Encode(new string(c, 1) + string.Concat(Enumerable.Range(0, tokens - 1).Select(i => (char)('a' + (i * 11 + c) % 26))));
        Assert.Equal(tokens, ids.Length);
        return ids;
    }

    [Fact]
    public async Task A_partition_hits_only_its_own_blocks_in_memory_and_on_disk()
    {
        string dir = TinyModelFixture.TempDirectory();
        var prompt = Prompt(300, 'p');
        using (var cache = new ContextCache(new ContextCacheOptions { Directory = dir }))
        using (var engine = fixture.CreateEngine(cache: cache))
        {
            Assert.Equal(0, (await Run(engine, prompt, "account:1")).Usage.CachedPromptTokens);
            Assert.Equal(0, (await Run(engine, prompt, "account:2")).Usage.CachedPromptTokens);
            Assert.Equal(256, (await Run(engine, prompt, "account:1")).Usage.CachedPromptTokens);
            await cache.FlushAsync();
        }
        using (var cache = new ContextCache(new ContextCacheOptions { Directory = dir }))
        using (var engine = fixture.CreateEngine(cache: cache))
        {
            Assert.Equal(0, (await Run(engine, prompt, "account:3")).Usage.CachedPromptTokens);
            Assert.Equal(256, (await Run(engine, prompt, "account:2")).Usage.CachedPromptTokens);
            Assert.True(cache.DiskReads >= 4);
        }
    }

    [Fact]
    public async Task A_full_disk_queue_drops_blocks_and_a_flush_still_ends()
    {
        string dir = TinyModelFixture.TempDirectory();
        using var cache = new ContextCache(new ContextCacheOptions { Directory = dir, DiskQueueBlocks = 1 });
        using var engine = fixture.CreateEngine(cache: cache);
        // One finished request stores 14 blocks in one go; a queue of one cannot take them while the writer fsyncs.
        await Run(engine, Prompt(900, 'q'), "p");
        await cache.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(cache.DroppedDiskWrites > 0);
        int written = Directory.EnumerateFiles(dir, "*.kvb", SearchOption.AllDirectories).Count();
        Assert.Equal(cache.StoredBlocks - cache.DroppedDiskWrites, written);
    }
}
