using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using SharpSeek.Tensors.Quantization;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

/// <summary>
/// Where one layer's cached rows live: fixed pages of <see cref="PageTokens"/> positions inside one pool buffer. Page
/// id p starts at <see cref="Pool"/> + p·<see cref="PageBytes"/>; inside it, this layer's key rows start at
/// <see cref="KeyOffset"/> (row r at + r·KeyRowElements elements) and its value rows at <see cref="ValueOffset"/>. Rows
/// are stored as F32, F16 or BF16 (<see cref="Type"/>). Values may alias keys (absorbed MLA: the latent is the value).
/// </summary>
public readonly unsafe struct KvPageView
{
    public KvPageView(byte* pool, long pageBytes, int pageTokens, DType type, long keyOffset, int keyRowElements, long valueOffset, int valueRowElements)
    {
        if (type is not (DType.F32 or DType.F16 or DType.BF16)) throw new ArgumentException($"KV rows are stored as F32, F16 or BF16, not {type}");
        if (pageTokens <= 0 || keyRowElements <= 0 || valueRowElements <= 0 || pageBytes <= 0)
            throw new ArgumentException($"KV page view: page of {pageTokens} tokens / {pageBytes} bytes, rows {keyRowElements}/{valueRowElements} must be positive");
        Pool = pool;
        PageBytes = pageBytes;
        PageTokens = pageTokens;
        Type = type;
        KeyOffset = keyOffset;
        KeyRowElements = keyRowElements;
        ValueOffset = valueOffset;
        ValueRowElements = valueRowElements;
    }

    public byte* Pool { get; }
    public long PageBytes { get; }
    public int PageTokens { get; }
    public DType Type { get; }
    public long KeyOffset { get; }
    public int KeyRowElements { get; }
    public long ValueOffset { get; }
    public int ValueRowElements { get; }
    public int ElementBytes => Type == DType.F32 ? 4 : 2;

    /// <summary>First element of the key row of <paramref name="position"/> in a sequence whose pages are <paramref name="pages"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* KeyRow(int* pages, int position)
        => Pool + pages[position / PageTokens] * PageBytes + KeyOffset + (long)(position % PageTokens) * KeyRowElements * ElementBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* ValueRow(int* pages, int position)
        => Pool + pages[position / PageTokens] * PageBytes + ValueOffset + (long)(position % PageTokens) * ValueRowElements * ElementBytes;

    /// <summary>Stores the F32 <paramref name="row"/> at <paramref name="destination"/> in this view's element type (round to nearest even).</summary>
    public void Store(ReadOnlySpan<float> row, byte* destination)
    {
        switch (Type)
        {
            case DType.F32: row.CopyTo(new Span<float>(destination, row.Length)); break;
            case DType.F16: Fp16Codec.FromSingle(row, new Span<ushort>(destination, row.Length)); break;
            default: Bf16Codec.FromSingle(row, new Span<ushort>(destination, row.Length)); break;
        }
    }

    /// <summary>Widens <paramref name="count"/> stored elements at <paramref name="source"/> into <paramref name="row"/>.</summary>
    public void Load(byte* source, int count, Span<float> row)
    {
        switch (Type)
        {
            case DType.F32: new ReadOnlySpan<float>(source, count).CopyTo(row); break;
            case DType.F16: Fp16Codec.ToSingle(new ReadOnlySpan<ushort>(source, count), row); break;
            default: Bf16Codec.ToSingle(new ReadOnlySpan<ushort>(source, count), row); break;
        }
    }
}

/// <summary>
/// Head shapes and strides (in floats) of one attention call. Query head h reads key/value head h / (QueryHeads /
/// KvHeads), which covers multi-head (KvHeads = QueryHeads), grouped-query and multi-query attention (KvHeads = 1):
/// absorbed MLA is the last, with the latent as both key prefix and value. Key/value head g starts at g·KeyHeadStride
/// (g·ValueHeadStride) elements into its row.
/// </summary>
public readonly record struct AttentionShape(
    int QueryHeads, int KvHeads, int KeyDim, int ValueDim,
    int QueryTokenStride, int QueryHeadStride,
    int KeyHeadStride, int ValueHeadStride,
    int OutputTokenStride, int OutputHeadStride,
    float Scale)
{
    public void Validate(in KvPageView kv)
    {
        if (QueryHeads <= 0 || KvHeads <= 0 || KeyDim <= 0 || ValueDim <= 0)
            throw new ArgumentException($"attention: heads {QueryHeads}/{KvHeads}, dims {KeyDim}/{ValueDim} must be positive");
        if (QueryHeads % KvHeads != 0)
            throw new ArgumentException($"attention: {QueryHeads} query heads do not share {KvHeads} key/value heads evenly");
        if ((long)(KvHeads - 1) * KeyHeadStride + KeyDim > kv.KeyRowElements || (long)(KvHeads - 1) * ValueHeadStride + ValueDim > kv.ValueRowElements)
            throw new ArgumentException($"attention: {KvHeads} key/value heads of {KeyDim}/{ValueDim} do not fit cache rows of {kv.KeyRowElements}/{kv.ValueRowElements}");
    }
}

/// <summary>
/// One sequence's part of a batched attention call: query rows [FirstRow, FirstRow + Tokens) of the packed activations
/// sit at positions FirstPosition … and see that sequence's cached positions 0 … FirstPosition + t (causal). Its page
/// table is pageTable[FirstPage …].
/// </summary>
public readonly record struct AttentionSequence(int FirstRow, int Tokens, int FirstPosition, int FirstPage);

/// <summary>
/// Causal scaled-dot-product attention of a ragged batch over paged caches (one kernel for MHA, GQA, MQA and absorbed
/// MLA, and for every sequence of a batch at once, so one fork covers the whole step).
/// </summary>
/// <remarks>
/// Work items are (sequence, token, block of query heads that share one key/value head); an item widens each cached
/// row once and uses it for every head of its block. Every head's scores, softmax and weighted sum are computed in the
/// same order whatever the blocking, the batch or the thread count, so a token's output depends only on its query and
/// its sequence's cache: batching never changes a sequence's numbers.
/// </remarks>
public static unsafe class Attention
{
    /// <summary>Most query heads one work item handles (bounds the per-worker score scratch).</summary>
    private const int MaxHeadBlock = 16;

    /// <summary>Floats of per-worker scratch for a batch whose longest sequence sees <paramref name="maxPositions"/> positions.</summary>
    public static long ScratchLength(in AttentionShape shape, int maxPositions, int threads)
        => (long)threads * PerWorker(shape, maxPositions);

    private static long PerWorker(in AttentionShape shape, int maxPositions)
        => (long)MaxHeadBlock * maxPositions + shape.KeyDim + shape.ValueDim + 32;

    /// <summary>
    /// output[row, h, :ValueDim] = Σ_s softmax_s(Scale · q[row, h]·k[s, g]) · v[s, g] over each row's visible positions.
    /// </summary>
    public static void Paged(in AttentionShape shape, ReadOnlySpan<AttentionSequence> sequences, ReadOnlySpan<int> pageTable, in KvPageView kv,
        ReadOnlySpan<float> queries, Span<float> output, Span<float> scratch, ComputePool? pool = null)
    {
        pool ??= ComputePool.Shared;
        shape.Validate(kv);
        if (sequences.IsEmpty) return;
        int totalTokens = 0, maxPositions = 0;
        foreach (var s in sequences)
        {
            if (s.Tokens <= 0 || s.FirstPosition < 0 || s.FirstRow < 0 || s.FirstPage < 0)
                throw new ArgumentException($"attention: sequence {s} needs tokens > 0 and non-negative rows/positions/pages");
            int visible = s.FirstPosition + s.Tokens;
            int pages = (visible + kv.PageTokens - 1) / kv.PageTokens;
            if ((long)s.FirstPage + pages > pageTable.Length)
                throw new ArgumentException($"attention: sequence {s} needs {pages} pages but the page table holds {pageTable.Length - s.FirstPage} from {s.FirstPage}");
            Need("queries", queries.Length, (long)(s.FirstRow + s.Tokens - 1) * shape.QueryTokenStride + (long)(shape.QueryHeads - 1) * shape.QueryHeadStride + shape.KeyDim);
            Need("output", output.Length, (long)(s.FirstRow + s.Tokens - 1) * shape.OutputTokenStride + (long)(shape.QueryHeads - 1) * shape.OutputHeadStride + shape.ValueDim);
            totalTokens += s.Tokens;
            maxPositions = Math.Max(maxPositions, visible);
        }
        long need = ScratchLength(shape, maxPositions, pool.ThreadCount);
        if (scratch.Length < need) throw new ArgumentException($"attention: scratch needs {need} floats, got {scratch.Length}");

        // Head blocks: whole groups when there are enough tokens to keep every thread busy, smaller blocks otherwise
        // (a single decoding sequence of an MQA model would otherwise be one work item).
        int group = shape.QueryHeads / shape.KvHeads;
        int itemsWanted = 4 * pool.ThreadCount;
        int blocksPerGroup = Math.Clamp((itemsWanted + totalTokens * shape.KvHeads - 1) / (totalTokens * shape.KvHeads), 1, group);
        int headBlock = Math.Min(MaxHeadBlock, (group + blocksPerGroup - 1) / blocksPerGroup);
        blocksPerGroup = (group + headBlock - 1) / headBlock;
        int itemsPerToken = shape.KvHeads * blocksPerGroup;

        fixed (float* q = queries, o = output, sc = scratch)
        fixed (int* pt = pageTable)
        fixed (AttentionSequence* seqs = sequences)
        {
            var body = new Body
            {
                Shape = shape, Kv = kv, Q = q, O = o, Scratch = sc, PageTable = pt, Sequences = seqs, SequenceCount = sequences.Length,
                HeadBlock = headBlock, BlocksPerGroup = blocksPerGroup, ItemsPerToken = itemsPerToken,
                PerWorker = PerWorker(shape, maxPositions),
            };
            // Aim for ~32K multiply-adds per chunk, and run a small call (under ~128K) on the caller: waking the pool
            // costs more than a tiny model's attention.
            int items = totalTokens * itemsPerToken;
            long perItem = (long)maxPositions * headBlock * (shape.KeyDim + shape.ValueDim);
            int grain = perItem * items < 1 << 17 ? items : (int)Math.Clamp(32768 / Math.Max(perItem, 1), 1, items);
            pool.For(items, grain, ref body);
        }

        static void Need(string what, int have, long need)
        {
            if (have < need) throw new ArgumentException($"attention: {what} need {need} floats for this batch, got {have}");
        }
    }

    private struct Body : IRangeBody
    {
        public AttentionShape Shape;
        public KvPageView Kv;
        public float* Q, O, Scratch;
        public int* PageTable;
        public AttentionSequence* Sequences;
        public int SequenceCount, HeadBlock, BlocksPerGroup, ItemsPerToken;
        public long PerWorker;

        public readonly void Execute(int start, int end, int worker)
        {
            float* scores = Scratch + worker * PerWorker;
            int maxScores = (int)(PerWorker - Shape.KeyDim - Shape.ValueDim - 32);
            // Widened key/value rows, 64-byte aligned inside the worker's slice.
            float* rowBuffer = (float*)(((nint)(scores + maxScores) + 63) & ~(nint)63);
            int seq = 0, firstItem = 0;
            for (int item = start; item < end; item++)
            {
                while (item >= firstItem + Sequences[seq].Tokens * ItemsPerToken)
                {
                    firstItem += Sequences[seq].Tokens * ItemsPerToken;
                    seq++;
                }
                var s = Sequences[seq];
                int local = item - firstItem;
                int t = local / ItemsPerToken, rest = local % ItemsPerToken;
                int g = rest / BlocksPerGroup, block = rest % BlocksPerGroup;
                int group = Shape.QueryHeads / Shape.KvHeads;
                int h0 = g * group + block * HeadBlock, h1 = Math.Min(g * group + group, h0 + HeadBlock);
                Attend(s, t, g, h0, h1, scores, rowBuffer);
            }
        }

        private readonly void Attend(in AttentionSequence s, int t, int g, int h0, int h1, float* scores, float* rowBuffer)
        {
            ref readonly var sh = ref Shape;
            int n = s.FirstPosition + t + 1; // causal: this token sees positions [0, n)
            int heads = h1 - h0;
            int* pages = PageTable + s.FirstPage;
            long row = s.FirstRow + t;
            bool f32 = Kv.Type == DType.F32;
            var keyRow = new Span<float>(rowBuffer, sh.KeyDim);
            for (int p = 0; p < n; p++)
            {
                byte* stored = Kv.KeyRow(pages, p) + (long)g * sh.KeyHeadStride * Kv.ElementBytes;
                ReadOnlySpan<float> k = f32 ? new ReadOnlySpan<float>(stored, sh.KeyDim) : keyRow;
                if (!f32) Kv.Load(stored, sh.KeyDim, keyRow);
                for (int h = 0; h < heads; h++)
                {
                    var qh = new ReadOnlySpan<float>(Q + row * sh.QueryTokenStride + (long)(h0 + h) * sh.QueryHeadStride, sh.KeyDim);
                    scores[h * n + p] = sh.Scale * TensorPrimitives.Dot(qh, k);
                }
            }
            for (int h = 0; h < heads; h++) Activations.Softmax(new Span<float>(scores + h * n, n));

            for (int h = 0; h < heads; h++)
                new Span<float>(O + row * sh.OutputTokenStride + (long)(h0 + h) * sh.OutputHeadStride, sh.ValueDim).Clear();
            var valueRow = new Span<float>(rowBuffer, sh.ValueDim);
            for (int p = 0; p < n; p++)
            {
                byte* stored = Kv.ValueRow(pages, p) + (long)g * sh.ValueHeadStride * Kv.ElementBytes;
                ReadOnlySpan<float> v = f32 ? new ReadOnlySpan<float>(stored, sh.ValueDim) : valueRow;
                if (!f32) Kv.Load(stored, sh.ValueDim, valueRow);
                for (int h = 0; h < heads; h++)
                {
                    var oh = new Span<float>(O + row * sh.OutputTokenStride + (long)(h0 + h) * sh.OutputHeadStride, sh.ValueDim);
                    TensorPrimitives.MultiplyAdd(v, scores[h * n + p], oh, oh);
                }
            }
        }
    }
}
