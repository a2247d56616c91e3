using System.Runtime.InteropServices;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Tests;

/// <summary>
/// The paged attention kernel against a float64 reference: several sequences per call, each with its own scattered
/// page table, positions across page boundaries, MHA / GQA / MQA (absorbed-MLA-like, values inside the key rows), and
/// F32 / F16 / BF16 rows. The reference reads the same stored rows widened exactly, so the tolerance covers only the
/// kernel's f32 arithmetic: 2e-5 relative to the largest output (dot products of ≤ 48 terms, a softmax, a weighted
/// sum); a wrong page, row or head offset moves outputs by O(1).
/// </summary>
public unsafe class PagedAttentionTests
{
    private const int PageTokens = 8; // small pages, so a few dozen positions cross several page boundaries

    public static TheoryData<string, int, int, int, int, bool> Cases => new()
    {
        // type, query heads, kv heads, key dim, value dim, values inside key rows
        { "F32", 4, 4, 16, 12, false },
        { "F16", 6, 2, 16, 16, false },
        { "BF16", 6, 2, 16, 16, false },
        { "F16", 5, 1, 40, 32, true },
        { "F32", 8, 1, 24, 16, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void PagedAttentionMatchesTheFloat64Reference(string typeName, int heads, int kvHeads, int keyDim, int valueDim, bool valuesInKeys)
    {
        var type = Enum.Parse<DType>(typeName);
        int elem = type == DType.F32 ? 4 : 2;
        int keyRow = kvHeads * keyDim, valueRow = valuesInKeys ? keyRow : kvHeads * valueDim;
        long layerBytes = (long)PageTokens * (keyRow + (valuesInKeys ? 0 : valueRow)) * elem;
        const int layers = 2, layer = 1, pages = 40;
        long pageBytes = layerBytes * layers;
        var rng = new Random(7);
        using var memory = new NativeBuffer(pages * pageBytes);
        var kv = new KvPageView(memory.Pointer, pageBytes, PageTokens, type, layer * layerBytes, keyRow,
            valuesInKeys ? layer * layerBytes : layer * layerBytes + (long)PageTokens * keyRow * elem, valueRow);

        // Three sequences: (first position, new tokens); page tables drawn from a shuffled pool of page ids.
        (int First, int Tokens)[] shape = [(0, 5), (21, 3), (9, 14)];
        var free = Enumerable.Range(0, pages).OrderBy(_ => rng.Next()).ToList();
        var tables = new List<int>();
        var sequences = new AttentionSequence[shape.Length];
        var keys = new List<double[][]>();   // per sequence, per position: the stored key row, widened
        var values = new List<double[][]>();
        int row = 0;
        for (int s = 0; s < shape.Length; s++)
        {
            int positions = shape[s].First + shape[s].Tokens;
            int needed = (positions + PageTokens - 1) / PageTokens;
            sequences[s] = new AttentionSequence(row, shape[s].Tokens, shape[s].First, tables.Count);
            var table = free.GetRange(0, needed).ToArray();
            free.RemoveRange(0, needed);
            tables.AddRange(table);
            var k = new double[positions][];
            var v = new double[positions][];
            fixed (int* pt = table)
                for (int p = 0; p < positions; p++)
                {
                    k[p] = Store(kv, kv.KeyRow(pt, p), keyRow, type, rng);
                    v[p] = valuesInKeys ? k[p] : Store(kv, kv.ValueRow(pt, p), valueRow, type, rng);
                }
            keys.Add(k);
            values.Add(v);
            row += shape[s].Tokens;
        }

        int qStride = heads * keyDim + 3, oStride = heads * valueDim + 1; // padded strides catch stride mix-ups
        var attentionShape = new AttentionShape(heads, kvHeads, keyDim, valueDim, qStride, keyDim,
            KeyHeadStride: keyDim, ValueHeadStride: valuesInKeys ? keyDim : valueDim, OutputTokenStride: oStride, OutputHeadStride: valueDim,
            Scale: 1f / MathF.Sqrt(keyDim));
        var q = new float[row * qStride];
        for (int i = 0; i < q.Length; i++) q[i] = (float)(rng.NextDouble() * 2 - 1);
        foreach (int threads in new[] { 1, 2 })
        {
            using var pool = new ComputePool(threads);
            var o = new float[row * oStride];
            var scratch = new float[Attention.ScratchLength(kv, 40, threads)];
            Attention.Paged(attentionShape, sequences, tables.ToArray(), kv, q, o, scratch, pool);

            double worst = 0, largest = 0;
            int group = heads / kvHeads;
            for (int s = 0; s < shape.Length; s++)
                for (int t = 0; t < shape[s].Tokens; t++)
                    for (int h = 0; h < heads; h++)
                    {
                        int r = sequences[s].FirstRow + t, g = h / group, n = shape[s].First + t + 1;
                        var scores = new double[n];
                        for (int p = 0; p < n; p++)
                        {
                            double dot = 0;
                            for (int i = 0; i < keyDim; i++) dot += q[r * qStride + h * keyDim + i] * keys[s][p][g * keyDim + i];
                            scores[p] = dot * attentionShape.Scale;
                        }
                        double max = scores.Max(), sum = scores.Sum(x => Math.Exp(x - max));
                        int vOffset = g * (valuesInKeys ? keyDim : valueDim);
                        for (int i = 0; i < valueDim; i++)
                        {
                            double expected = 0;
                            for (int p = 0; p < n; p++) expected += Math.Exp(scores[p] - max) / sum * values[s][p][vOffset + i];
                            double got = o[r * oStride + h * valueDim + i];
                            worst = Math.Max(worst, Math.Abs(got - expected));
                            largest = Math.Max(largest, Math.Abs(expected));
                        }
                    }
            Assert.True(largest > 0.1, "degenerate outputs");
            Assert.True(worst <= 2e-5 * Math.Max(1, largest), $"{typeName} {heads}/{kvHeads} heads, {threads} threads: max |Δ| {worst:E2} (outputs up to {largest:F3})");
        }
    }

    /// <summary>Writes a random row in the page's element type and returns exactly what was stored, widened.</summary>
    private static double[] Store(KvPageView kv, byte* at, int width, DType type, Random rng)
    {
        var row = new float[width];
        for (int i = 0; i < width; i++) row[i] = (float)(rng.NextDouble() * 4 - 2);
        kv.Store(row, at);
        var back = new float[width];
        kv.Load(at, width, back);
        for (int i = 0; i < width; i++)
        {
            float exact = type switch
            {
                DType.F16 => Fp16Codec.ToSingle(Fp16Codec.FromSingle(row[i])),
                DType.BF16 => Bf16Codec.ToSingle(Bf16Codec.FromSingle(row[i])),
                _ => row[i],
            };
            Assert.Equal(exact, back[i]);
        }
        return back.Select(x => (double)x).ToArray();
    }

    /// <summary>A token's output is bit-identical whatever else shares its call (other sequences, head blocking, threads).</summary>
    [Fact]
    public void A_sequence_gets_the_same_bits_alone_or_in_a_batch()
    {
        const int heads = 16, keyDim = 36, valueDim = 32;
        long pageBytes = (long)PageTokens * keyDim * 2;
        using var memory = new NativeBuffer(64 * pageBytes);
        var kv = new KvPageView(memory.Pointer, pageBytes, PageTokens, DType.F16, 0, keyDim, 0, keyDim);
        var rng = new Random(3);
        var bytes = new Span<byte>(memory.Pointer, (int)memory.Length);
        for (int i = 0; i < bytes.Length / 2; i++) MemoryMarshal.Cast<byte, ushort>(bytes)[i] = Fp16Codec.FromSingle((float)(rng.NextDouble() - 0.5));
        var shape = new AttentionShape(heads, 1, keyDim, valueDim, heads * keyDim, keyDim, 0, 0, heads * valueDim, valueDim, 0.2f);
        int[] table = Enumerable.Range(0, 64).ToArray();
        var q = new float[40 * heads * keyDim];
        for (int i = 0; i < q.Length; i++) q[i] = (float)(rng.NextDouble() - 0.5);

        // The sequence of interest: one decode token at position 50 (pages 0-6), alone, then beside a 39-row prefill.
        using var pool = new ComputePool(2);
        var scratch = new float[Attention.ScratchLength(kv, 64, 2)];
        var alone = new float[heads * valueDim];
        Attention.Paged(shape, [new AttentionSequence(0, 1, 50, 0)], table, kv, q.AsSpan(0, heads * keyDim), alone, scratch, pool);
        var batched = new float[40 * heads * valueDim];
        Attention.Paged(shape, [new AttentionSequence(0, 1, 50, 0), new AttentionSequence(1, 39, 0, 7)], table, kv, q, batched, scratch, pool);
        Assert.True(alone.AsSpan().SequenceEqual(batched.AsSpan(0, heads * valueDim)));
        using var one = new ComputePool(1);
        var serial = new float[heads * valueDim];
        Attention.Paged(shape, [new AttentionSequence(0, 1, 50, 0)], table, kv, q.AsSpan(0, heads * keyDim), serial, scratch, one);
        Assert.True(alone.AsSpan().SequenceEqual(serial));
    }

    [Fact]
    public void Bad_layouts_are_refused()
    {
        using var memory = new NativeBuffer(4096);
        Assert.Throws<ArgumentException>(() => new KvPageView(memory.Pointer, 1024, PageTokens, DType.Q8_0, 0, 16, 0, 16));
        var kv = new KvPageView(memory.Pointer, 1024, PageTokens, DType.F32, 0, 16, 0, 16);
        var shape = new AttentionShape(4, 3, 16, 16, 64, 16, 16, 16, 64, 16, 1f);
        var scratch = new float[4096];
        Assert.Throws<ArgumentException>(() => Attention.Paged(shape, [new AttentionSequence(0, 1, 0, 0)], [0], kv, new float[64], new float[64], scratch));
        var ok = shape with { KvHeads = 1, KeyHeadStride = 0, ValueHeadStride = 0 };
        // The page table is too short for 9 positions of 8-token pages.
        Assert.Throws<ArgumentException>(() => Attention.Paged(ok, [new AttentionSequence(0, 1, 8, 0)], [0], kv, new float[64], new float[64], scratch));
        // Queries too short for the rows.
        Assert.Throws<ArgumentException>(() => Attention.Paged(ok, [new AttentionSequence(0, 2, 0, 0)], [0], kv, new float[64], new float[128], scratch));
    }
}
