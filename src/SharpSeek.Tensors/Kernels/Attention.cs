using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
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

    /// <summary>Floats of scratch for a batch whose longest sequence sees <paramref name="maxPositions"/> positions.</summary>
    public static long ScratchLength(in KvPageView kv, int maxPositions, int threads)
        => (long)threads * PerWorker(kv, maxPositions);

    // Per worker: the score rows of one head block, then one page of widened rows (64-byte aligned).
    private static long PerWorker(in KvPageView kv, int maxPositions)
        => (long)MaxHeadBlock * maxPositions + (long)kv.PageTokens * Math.Max(kv.KeyRowElements, kv.ValueRowElements) + 32;

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
        long work = 0;
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
            work += (long)s.Tokens * visible;
        }
        long need = ScratchLength(kv, maxPositions, pool.ThreadCount);
        if (scratch.Length < need) throw new ArgumentException($"attention: scratch needs {need} floats, got {scratch.Length}");
        work *= (long)shape.QueryHeads * (shape.KeyDim + shape.ValueDim);

        // Small calls (a tiny model, a short context) run on the caller: waking the pool costs more than they do. Then,
        // or when there are enough tokens to keep every thread busy, an item takes a whole group of heads, so each
        // cached row is widened once per token; otherwise groups are split so even one decoding sequence of an MQA
        // model (absorbed MLA) spreads over the threads.
        int group = shape.QueryHeads / shape.KvHeads;
        bool serial = work < 1 << 18 || pool.ThreadCount == 1;
        int blocksPerGroup = serial ? 1 : Math.Clamp((4 * pool.ThreadCount + totalTokens * shape.KvHeads - 1) / (totalTokens * shape.KvHeads), 1, group);
        int headBlock = Math.Min(MaxHeadBlock, (group + blocksPerGroup - 1) / blocksPerGroup);
        blocksPerGroup = (group + headBlock - 1) / headBlock;
        int itemsPerToken = shape.KvHeads * blocksPerGroup;
        int items = totalTokens * itemsPerToken;

        fixed (float* q = queries, o = output, sc = scratch)
        fixed (int* pt = pageTable)
        fixed (AttentionSequence* seqs = sequences)
        {
            var body = new Body
            {
                Shape = shape, Kv = kv, Q = q, O = o, Scratch = sc, PageTable = pt, Sequences = seqs, SequenceCount = sequences.Length,
                HeadBlock = headBlock, BlocksPerGroup = blocksPerGroup, ItemsPerToken = itemsPerToken,
                PerWorker = PerWorker(kv, maxPositions), MaxScores = MaxHeadBlock * maxPositions,
            };
            // ~32K multiply-adds per chunk when forking.
            int grain = serial ? items : (int)Math.Clamp(32768 * (long)items / Math.Max(work, 1), 1, items);
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
        public int SequenceCount, HeadBlock, BlocksPerGroup, ItemsPerToken, MaxScores;
        public long PerWorker;

        public readonly void Execute(int start, int end, int worker)
        {
            float* scores = Scratch + worker * PerWorker;
            // Widened rows of one page, 64-byte aligned inside the worker's slice.
            float* rows = (float*)(((nint)(scores + MaxScores) + 63) & ~(nint)63);
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
                Attend(s, t, g, h0, h1, scores, rows);
            }
        }

        /// <summary>
        /// One token, heads h0…h1 of key/value head g: scores over every visible position, softmax, weighted sum. Cached
        /// rows are read a page run at a time (one widening call for up to 64 rows; F32 pages are read in place).
        /// </summary>
        private readonly void Attend(in AttentionSequence s, int t, int g, int h0, int h1, float* scores, float* rows)
        {
            ref readonly var sh = ref Shape;
            int n = s.FirstPosition + t + 1; // causal: this token sees positions [0, n)
            int heads = h1 - h0;
            int* pages = PageTable + s.FirstPage;
            long row = s.FirstRow + t;
            bool f32 = Kv.Type == DType.F32;
            int kw = Kv.KeyRowElements, vw = Kv.ValueRowElements;
            for (int p0 = 0; p0 < n; p0 += Kv.PageTokens)
            {
                int count = Math.Min(Kv.PageTokens, n - p0);
                byte* stored = Kv.KeyRow(pages, p0);
                float* k = f32 ? (float*)stored : rows;
                if (!f32) Kv.Load(stored, count * kw, new Span<float>(rows, count * kw));
                k += g * sh.KeyHeadStride;
                for (int h = 0; h < heads; h++)
                {
                    float* qh = Q + row * sh.QueryTokenStride + (long)(h0 + h) * sh.QueryHeadStride;
                    float* sc = scores + h * n + p0;
                    for (int r = 0; r < count; r++) sc[r] = sh.Scale * Dot(qh, k + (long)r * kw, sh.KeyDim);
                }
            }
            for (int h = 0; h < heads; h++) Activations.Softmax(new Span<float>(scores + h * n, n));

            for (int h = 0; h < heads; h++)
                new Span<float>(O + row * sh.OutputTokenStride + (long)(h0 + h) * sh.OutputHeadStride, sh.ValueDim).Clear();
            // (The per-position dot products and updates below are short: inlined loops, not library calls per row.)
            for (int p0 = 0; p0 < n; p0 += Kv.PageTokens)
            {
                int count = Math.Min(Kv.PageTokens, n - p0);
                byte* stored = Kv.ValueRow(pages, p0);
                float* v = f32 ? (float*)stored : rows;
                if (!f32) Kv.Load(stored, count * vw, new Span<float>(rows, count * vw));
                v += g * sh.ValueHeadStride;
                for (int h = 0; h < heads; h++)
                {
                    float* oh = O + row * sh.OutputTokenStride + (long)(h0 + h) * sh.OutputHeadStride;
                    float* sc = scores + h * n + p0;
                    for (int r = 0; r < count; r++) MultiplyAdd(oh, v + (long)r * vw, sc[r], sh.ValueDim);
                }
            }
        }
    }

    /// <summary>a·b over <paramref name="n"/> floats: 16-wide, then 8-wide, then scalar partial sums, one fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* a, float* b, int n)
    {
        int i = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), acc);
            sum = Vector512.Sum(acc);
        }
        if (Vector256.IsHardwareAccelerated && i + 8 <= n)
        {
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
            sum += Vector256.Sum(acc);
        }
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(a[i], b[i], sum);
        return sum;
    }

    /// <summary>y += s·x over <paramref name="n"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyAdd(float* y, float* x, float s, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vs = Vector512.Create(s);
            for (; i + 16 <= n; i += 16) Vector512.FusedMultiplyAdd(Vector512.Load(x + i), vs, Vector512.Load(y + i)).Store(y + i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(x + i), vs, Vector256.Load(y + i)).Store(y + i);
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(x[i], s, y[i]);
    }
}
