using SharpSeek.Checkpoints;
using SharpSeek.Model;
using SharpSeek.Tensors;
using SharpSeek.Tensors.Kernels;
using Xunit.Abstractions;

namespace SharpSeek.Model.Tests;

/// <summary>
/// A sequence gives the same numbers whether it runs alone or packed with others into one forward pass: the batched
/// engine's promise that a request's output does not depend on the load.
/// </summary>
public class BatchedForwardTests(ITestOutputHelper output)
{
    /// <summary>V2-Lite's shape (no q-LoRA, softmax routing) with Q8_0-friendly widths (multiples of 32).</summary>
    private static readonly ModelConfig V2LiteQ8 = ModelPresets.TinyDeepSeekV2Lite with
    {
        HiddenSize = 64, NumAttentionHeads = 2, KvLoraRank = 32, QkNopeHeadDim = 32, QkRopeHeadDim = 16, VHeadDim = 32,
        IntermediateSize = 64, MoeIntermediateSize = 32,
    };

    private static readonly ModelConfig Qwen2Q8 = ModelPresets.TinyQwen2 with { HiddenSize = 64, NumAttentionHeads = 2, NumKeyValueHeads = 1, IntermediateSize = 64 };

    private static (ModelConfig, AttentionMode, RandomWeightOptions) Case(string name) => name switch
    {
        "v3-q8_0" => (ReferenceParityTests.Q8Friendly, AttentionMode.Absorbed, new RandomWeightOptions { MatrixType = DType.Q8_0 }),
        "v2lite-q8_0" => (V2LiteQ8, AttentionMode.Absorbed, new RandomWeightOptions { MatrixType = DType.Q8_0 }),
        "qwen2-q8_0" => (Qwen2Q8, AttentionMode.Absorbed, new RandomWeightOptions { MatrixType = DType.Q8_0 }),
        _ => ReferenceParityTests.Case(name),
    };

    private static readonly int[] PromptLengths = [3, 17, 1, 40, 64, 65, 9, 2, 33, 5, 70, 12, 1, 27, 48, 8];
    private const int Decoded = 6;

    /// <summary>
    /// Sixteen sequences with different prompt lengths, packed into shared passes of at most 96 rows — prefill chunks
    /// of up to 24 tokens beside other sequences' decode tokens, in whatever mix the step gives — produce bit-identical
    /// logits at every draw, and so the same greedy tokens, as each sequence run alone in a session. Tolerance: zero;
    /// every kernel computes a row the same way whatever else is in its call.
    /// </summary>
    [Theory]
    [InlineData("v3-absorbed")]
    [InlineData("v3-naive")]
    [InlineData("v2lite-absorbed")]
    [InlineData("qwen2")]
    [InlineData("v3-q8_0")]
    [InlineData("v2lite-q8_0")]
    [InlineData("qwen2-q8_0")]
    public void SixteenSequencesInOneBatchMatchEachRunAlone(string name)
    {
        var (config, mode, layout) = Case(name);
        using var weights = RandomWeights.Create(config, seed: 13, layout);
        using var model = LanguageModel.Create(config, weights, new ModelOptions { Attention = mode, MaxPositions = 128 });
        var prompts = PromptLengths.Select((n, i) => ModelRunner.Tokens(n, config.VocabSize, seed: 100 + i)).ToArray();

        // Alone: one session per sequence, prompt in one pass, then greedy decoding.
        var alone = prompts.Select(p => RunAlone(model, p)).ToArray();

        // Together: one pool, one batch, a scheduler-like loop with a row budget.
        using var pool = new KvPagePool(model, 64 * KvPagePool.PageBytesFor(model));
        var kvs = prompts.Select(_ => new SequenceKv(pool)).ToArray();
        var feeds = prompts.Select(p => p.ToList()).ToArray();
        var draws = prompts.Select(_ => new List<float[]>()).ToArray();
        var batch = new ForwardBatch(model, 96);
        int steps = 0, mixed = 0;
        while (draws.Any(d => d.Count < Decoded + 1))
        {
            batch.Clear();
            var segments = new List<(int Seq, int Segment, bool Draws)>();
            for (int i = 0; i < prompts.Length && batch.RemainingTokens > 0; i++)
            {
                if (draws[i].Count == Decoded + 1) continue;
                int pending = feeds[i].Count - kvs[i].Length;
                int n = Math.Min(Math.Min(pending, 24), batch.RemainingTokens);
                Assert.True(kvs[i].TryPrepare(kvs[i].Length, kvs[i].Length + n));
                bool drawsNow = n == pending;
                int seg = batch.Add(kvs[i], feeds[i].GetRange(kvs[i].Length, n).ToArray(), drawsNow ? LogitsFor.LastPosition : LogitsFor.None);
                segments.Add((i, seg, drawsNow));
            }
            batch.Run();
            steps++;
            if (segments.Any(s => !s.Draws) && segments.Any(s => s.Draws)) mixed++;
            foreach (var (i, seg, drawsNow) in segments)
            {
                if (!drawsNow) continue;
                var logits = batch.Logits(seg).ToArray();
                draws[i].Add(logits);
                feeds[i].Add(Selection.Argmax(logits));
            }
        }
        foreach (var kv in kvs) kv.Dispose();
        Assert.Equal(0, pool.UsedPages);
        output.WriteLine($"{name}: {steps} batched steps ({mixed} mixing prefill chunks with decodes)");
        Assert.True(mixed > 0, "the schedule never mixed prefill and decode rows; the test would not show what it claims");

        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(alone[i].Tokens, feeds[i].Skip(prompts[i].Length).Take(Decoded + 1).ToArray());
            for (int d = 0; d <= Decoded; d++)
                Assert.True(alone[i].Logits[d].AsSpan().SequenceEqual(draws[i][d]),
                    $"{name}: sequence {i} (prompt {prompts[i].Length}) draw {d}: batched logits differ from the lone run by {ModelRunner.MaxAbsDiff(alone[i].Logits[d], draws[i][d]):E2}");
        }
    }

    private static (int[] Tokens, float[][] Logits) RunAlone(LanguageModel model, int[] prompt)
    {
        using var session = model.CreateSession(128, maxBatch: 128);
        var logits = new List<float[]> { session.Prefill(prompt).ToArray() };
        var tokens = new List<int> { Selection.Argmax(logits[0]) };
        for (int d = 0; d < Decoded; d++)
        {
            logits.Add(session.Decode(tokens[^1]).ToArray());
            tokens.Add(Selection.Argmax(logits[^1]));
        }
        return (tokens.ToArray(), logits.ToArray());
    }

    /// <summary>
    /// Pages shared by two sequences are read-only (a write goes to a private copy, the other owner still sees its
    /// rows) and go back to the pool when their last owner lets go.
    /// </summary>
    [Fact]
    public void SharedPagesAreCopiedBeforeAWriteAndFreedWithTheirLastOwner()
    {
        var config = ModelPresets.TinyDeepSeekV3;
        using var weights = RandomWeights.Create(config, seed: 2);
        using var model = LanguageModel.Create(config, weights);
        using var pool = new KvPagePool(model, 8 * KvPagePool.PageBytesFor(model));
        Assert.Equal(8, pool.PageCount);
        var batch = new ForwardBatch(model, 128);
        int[] tokens = ModelRunner.Tokens(100, config.VocabSize, seed: 4);

        var a = new SequenceKv(pool);
        Assert.True(a.TryPrepare(0, 100));
        batch.Add(a, tokens);
        batch.Run();
        Assert.Equal(2, pool.UsedPages);
        byte[] firstPage = pool.Bytes(a.Pages[0]).ToArray();

        // b adopts a's first page: one page, two owners, no copy.
        var b = new SequenceKv(pool);
        b.AdoptPrefix(a.Pages[..1], withMtpRows: false);
        Assert.Equal(a.Pages[0], b.Pages[0]);
        Assert.Equal(2, pool.Owners(a.Pages[0]));
        Assert.Equal(64, b.Length);
        Assert.Equal(2, pool.UsedPages);

        // b rewinds into the shared page and writes: it gets a private copy first; a's page is untouched.
        b.Truncate(60);
        Assert.True(b.TryPrepare(60, 70));
        Assert.NotEqual(a.Pages[0], b.Pages[0]);
        Assert.Equal(1, pool.Owners(a.Pages[0]));
        batch.Clear();
        batch.Add(b, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        batch.Run();
        Assert.True(pool.Bytes(a.Pages[0]).SequenceEqual(firstPage), "a shared page changed under its other owner");
        Assert.False(pool.Bytes(b.Pages[0]).SequenceEqual(firstPage));

        // A batch refuses to write through a page another sequence still holds.
        var c = new SequenceKv(pool);
        c.AdoptPrefix(a.Pages[..1], withMtpRows: false);
        c.Truncate(63);
        batch.Clear();
        Assert.Throws<InvalidOperationException>(() => batch.Add(c, [1]));

        a.Dispose();
        Assert.Equal(1, pool.Owners(c.Pages[0])); // the page lives on with c
        c.Dispose();
        b.Dispose();
        Assert.Equal(0, pool.UsedPages);
        Assert.Equal(pool.PageCount, pool.FreePages);
    }

    /// <summary>A pool too small for one page, and rows that were not prepared, get clear errors.</summary>
    [Fact]
    public void BadPoolSizesAndUnpreparedRowsAreRefused()
    {
        var config = ModelPresets.TinyQwen2;
        using var weights = RandomWeights.Create(config, seed: 2);
        using var model = LanguageModel.Create(config, weights);
        long page = KvPagePool.PageBytesFor(model);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new KvPagePool(model, page - 1));
        Assert.Contains("holds no page", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvPagePool(model, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvPagePool(model, -5));
        Assert.Throws<ArgumentException>(() => new KvPagePool(model, page, DType.Q8_0));

        using var pool = new KvPagePool(model, 2 * page);
        var kv = new SequenceKv(pool);
        var batch = new ForwardBatch(model, 8);
        Assert.Throws<InvalidOperationException>(() => batch.Add(kv, [1, 2]));
        Assert.True(kv.TryPrepare(0, 128));
        Assert.False(kv.TryPrepare(128, 129)); // a third page does not exist
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.Add(kv, [config.VocabSize]));
        Assert.Throws<ArgumentException>(() => batch.Add(kv, new int[9]));
        batch.Add(kv, [1]);
        Assert.Throws<ArgumentException>(() => batch.Add(kv, [2])); // one segment per sequence
        kv.Dispose();
    }
}
