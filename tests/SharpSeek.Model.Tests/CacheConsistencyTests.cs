using SharpSeek.Checkpoints;
using SharpSeek.Model;
using Xunit.Abstractions;

namespace SharpSeek.Model.Tests;

/// <summary>
/// The two MLA forms agree, and the KV cache is right: a prefill followed by decode steps gives what one longer
/// prefill gives, whatever the chunking.
/// </summary>
public class CacheConsistencyTests(ITestOutputHelper output)
{
    /// <summary>
    /// Naive and absorbed MLA regroup the same sums (W_kb folded into q, W_vb applied after the weighted sum), so they
    /// differ only by F32 rounding: ≤ 2e-5 on logits of magnitude ~2 over 80 positions (observed ~1e-6).
    /// </summary>
    [Theory]
    [InlineData("v3")]
    [InlineData("v2lite")]
    public void NaiveAndAbsorbedMlaGiveTheSameLogits(string which)
    {
        var config = which == "v3" ? ModelPresets.TinyDeepSeekV3 : ModelPresets.TinyDeepSeekV2Lite;
        using var weights = RandomWeights.Create(config, seed: 3);
        // An exact cache: the two forms cache different numbers, so F16 rounding would separate them by ~1e-3.
        using var naive = LanguageModel.Create(config, weights, new ModelOptions { Attention = AttentionMode.Naive, KvCacheType = SharpSeek.Tensors.DType.F32 });
        using var absorbed = LanguageModel.Create(config, weights, new ModelOptions { Attention = AttentionMode.Absorbed, KvCacheType = SharpSeek.Tensors.DType.F32 });
        int[] tokens = ModelRunner.Tokens(80, config.VocabSize, seed: 9);

        var (a, ha) = ModelRunner.Run(naive, tokens, maxBatch: 32);
        var (b, hb) = ModelRunner.Run(absorbed, tokens, maxBatch: 32);
        double diff = ModelRunner.MaxAbsDiff(a, b);
        output.WriteLine($"{which}: naive vs absorbed over {tokens.Length} positions: max |Δlogit| = {diff:E2}");
        Assert.True(diff <= 2e-5, $"naive and absorbed MLA differ by {diff:E3}");
        Assert.True(ModelRunner.MaxAbsDiff(a, new float[a.Length]) > 0.5, "logits are degenerate");

        if (config.NumNextnPredictLayers > 0)
        {
            var mtpA = RunMtp(naive, tokens, ha);
            var mtpB = RunMtp(absorbed, tokens, hb);
            double mtpDiff = ModelRunner.MaxAbsDiff(mtpA, mtpB);
            output.WriteLine($"{which}: MTP naive vs absorbed: max |Δlogit| = {mtpDiff:E2}");
            Assert.True(mtpDiff <= 2e-5, $"MTP logits differ by {mtpDiff:E3} between the MLA forms");
        }
    }

    private static float[] RunMtp(LanguageModel model, int[] tokens, float[] hidden)
    {
        int T = tokens.Length - 1, h = model.Config.HiddenSize, v = model.Config.VocabSize;
        using var session = model.CreateSession(tokens.Length, 32);
        session.Forward(tokens, [], LogitsFor.None);
        var logits = new float[T * v];
        session.ForwardMtp(hidden.AsSpan(0, T * h), tokens.AsSpan(1), logits, LogitsFor.AllPositions);
        return logits;
    }

    public static TheoryData<string> Cases => new() { "v3-absorbed", "v3-naive", "v2lite-absorbed", "qwen2", "llama" };

    /// <summary>
    /// Prefill T tokens, decode token T: the logits equal those of prefilling T+1 tokens at once, bit for bit (every
    /// kernel computes a row the same way for m = 1 and m = T+1).
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void PrefillThenDecodeMatchesLongerPrefill(string name)
    {
        var (config, mode, layout) = ReferenceParityTests.Case(name);
        using var weights = RandomWeights.Create(config, seed: 21, layout);
        using var model = LanguageModel.Create(config, weights, new ModelOptions { Attention = mode });
        int[] tokens = ModelRunner.Tokens(41, config.VocabSize, seed: 4);
        int T = tokens.Length - 1, v = config.VocabSize;

        using var once = model.CreateSession(64);
        var expected = new float[v];
        once.Forward(tokens, expected, LogitsFor.LastPosition);

        using var stepwise = model.CreateSession(64);
        stepwise.Forward(tokens.AsSpan(0, T), [], LogitsFor.None);
        Assert.Equal(T, stepwise.Length);
        var decoded = stepwise.Decode(tokens[T]).ToArray();
        Assert.Equal(T + 1, stepwise.Length);

        double diff = ModelRunner.MaxAbsDiff(decoded, expected);
        output.WriteLine($"{name}: prefill {T} + decode 1 vs prefill {T + 1}: max |Δlogit| = {diff:E2}");
        Assert.True(diff == 0, $"decode after prefill differs from a longer prefill by {diff:E3}");
    }

    /// <summary>Every position's logits are bit-identical whether the sequence goes in whole, in chunks of 7, or one token at a time.</summary>
    [Theory]
    [InlineData("v3-absorbed")]
    [InlineData("v3-naive")]
    [InlineData("qwen2")]
    public void ChunkingDoesNotChangeLogits(string name)
    {
        var (config, mode, layout) = ReferenceParityTests.Case(name);
        using var weights = RandomWeights.Create(config, seed: 8, layout);
        using var model = LanguageModel.Create(config, weights, new ModelOptions { Attention = mode });
        int[] tokens = ModelRunner.Tokens(30, config.VocabSize, seed: 6);
        int v = config.VocabSize;

        var (whole, _) = ModelRunner.Run(model, tokens, maxBatch: 64);
        var (chunked, _) = ModelRunner.Run(model, tokens, maxBatch: 7);
        var stepwise = new float[tokens.Length * v];
        using (var s = model.CreateSession(tokens.Length))
            for (int t = 0; t < tokens.Length; t++) s.Decode(tokens[t]).CopyTo(stepwise.AsSpan(t * v, v));

        Assert.True(ModelRunner.MaxAbsDiff(whole, chunked) == 0, "chunked prefill differs");
        Assert.True(ModelRunner.MaxAbsDiff(whole, stepwise) == 0, "token-by-token decoding differs");
    }

    /// <summary>Truncate rewinds the cache: re-running the dropped tokens reproduces the same logits.</summary>
    [Fact]
    public void TruncateRewindsTheSequence()
    {
        var config = ModelPresets.TinyDeepSeekV3;
        using var weights = RandomWeights.Create(config, seed: 2);
        using var model = LanguageModel.Create(config, weights);
        int[] tokens = ModelRunner.Tokens(12, config.VocabSize, seed: 1);
        using var s = model.CreateSession(32);
        var first = s.Prefill(tokens).ToArray();
        s.Decode(5);
        s.Decode(6);
        s.Truncate(tokens.Length - 1);
        var again = s.Decode(tokens[^1]).ToArray();
        Assert.Equal(tokens.Length, s.Length);
        Assert.True(ModelRunner.MaxAbsDiff(first, again) == 0);
    }

    /// <summary>
    /// A page copied into another session's pool and adopted as its prefix continues the sequence exactly as the
    /// original session (the context cache's disk tier does this), in every attention form and cache element type.
    /// </summary>
    [Theory]
    [InlineData("v3-absorbed", "F16")]
    [InlineData("v3-naive", "BF16")]
    [InlineData("llama", "F32")]
    public void AdoptedPagesContinueTheSequence(string name, string type)
    {
        var (config, mode, layout) = ReferenceParityTests.Case(name);
        var kvType = Enum.Parse<SharpSeek.Tensors.DType>(type);
        using var weights = RandomWeights.Create(config, seed: 5, layout);
        using var model = LanguageModel.Create(config, weights, new ModelOptions { Attention = mode, KvCacheType = kvType });
        int[] tokens = ModelRunner.Tokens(70, config.VocabSize, seed: 3);
        using var original = model.CreateSession(128);
        original.Prefill(tokens.AsSpan(0, 64));
        var expected = original.Decode(tokens[64]).ToArray();

        using var restored = model.CreateSession(128);
        var pool = restored.Kv.Pool;
        int page = pool.TryRent();
        original.Kv.Pool.Bytes(original.Kv.Pages[0]).CopyTo(pool.Bytes(page));
        restored.Kv.AdoptPrefix([page], withMtpRows: true);
        pool.Release(page);
        Assert.Equal(1, pool.Owners(page));
        Assert.Equal(64, restored.Length);
        var actual = restored.Decode(tokens[64]).ToArray();
        Assert.True(ModelRunner.MaxAbsDiff(expected, actual) == 0, "an adopted page must reproduce the logits bit for bit");
        Assert.Throws<InvalidOperationException>(() => restored.Kv.AdoptPrefix([page], withMtpRows: false));
    }

    [Fact]
    public void SessionRejectsOverflowAndBadTokens()
    {
        var config = ModelPresets.TinyQwen2;
        using var weights = RandomWeights.Create(config, seed: 2);
        using var model = LanguageModel.Create(config, weights);
        using var s = model.CreateSession(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Decode(config.VocabSize));
        Assert.Equal(0, s.Length);
        s.Prefill([1, 2, 3, 4]);
        Assert.Throws<InvalidOperationException>(() => s.Decode(1));
        Assert.Throws<ArgumentException>(() => s.Forward([], new float[config.VocabSize]));
    }

    /// <summary>A session allocates all it needs up front: decoding 32 more tokens allocates nothing on the managed heap.</summary>
    [Theory]
    [InlineData("v3-absorbed")]
    [InlineData("v3-naive")]
    [InlineData("qwen2")]
    public void DecodeAllocatesNothing(string name)
    {
        var (config, mode, layout) = ReferenceParityTests.Case(name);
        using var weights = RandomWeights.Create(config, seed: 2, layout);
        // A one-thread pool keeps the measurement to this thread (workers would not allocate either, but are not counted).
        using var pool = new SharpSeek.Tensors.Threading.ComputePool(1);
        using var model = LanguageModel.Create(config, weights, new ModelOptions { Attention = mode, Backend = new SharpSeek.Tensors.Backend.CpuBackend(pool) });
        using var s = model.CreateSession(128);
        int[] tokens = ModelRunner.Tokens(64, config.VocabSize, seed: 1);
        s.Prefill(tokens.AsSpan(0, 16));
        for (int t = 16; t < 24; t++) s.Decode(tokens[t]); // warm-up: scratch grows to its working size
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 24; t < 56; t++) s.Decode(tokens[t]);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"32 decode steps allocated {allocated} bytes");
    }
}
