using System.Numerics.Tensors;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Backend;

/// <summary>
/// <see cref="IComputeBackend"/> on the CPU kernels. Scratch memory lives in a per-calling-thread workspace that
/// only grows (doubling), so after the first tokens of a session a decode step allocates nothing, and two sessions
/// driven from two threads never share scratch.
/// </summary>
public sealed class CpuBackend(ComputePool? pool = null) : IComputeBackend
{
    public ComputePool Pool { get; } = pool ?? ComputePool.Shared;

    public void Linear(Tensor weight, ReadOnlySpan<float> x, Span<float> y, int m) => MatMul.Linear(weight, x, y, m, Pool);

    public unsafe void GroupedLinear(IReadOnlyList<Tensor> weights, ReadOnlySpan<float> x, int xTokenStride, int xGroupStride,
        Span<float> y, int yTokenStride, int yGroupStride, int m)
    {
        int groups = weights.Count;
        if (groups == 0 || m == 0) return;
        int n = (int)weights[0].Rows, k = weights[0].Cols;
        for (int g = 1; g < groups; g++) // indexed, not foreach: enumerating an IReadOnlyList allocates
            if (weights[g] is var w && (w.Rows != n || w.Cols != k || w.DType != weights[0].DType))
                throw new ArgumentException($"GroupedLinear: every weight must be [{n}, {k}] {weights[0].DType}; got {w} ({w.DType})");
        if (x.Length < (long)(m - 1) * xTokenStride + (long)(groups - 1) * xGroupStride + k
            || y.Length < (long)(m - 1) * yTokenStride + (long)(groups - 1) * yGroupStride + n)
            throw new ArgumentException($"GroupedLinear: x ({x.Length}) or y ({y.Length}) is too short for {m} rows of {groups} groups of [{k}] -> [{n}]");

        // One fork over the groups; inside a body each group's GEMM runs on its worker (nested loops run serially),
        // so a decode step pays one dispatch per call instead of one per head. Rows are gathered into per-worker
        // scratch because the kernel takes contiguous [m, K] activations.
        int perWorker = m * (k + n);
        var scratch = Workspace.Current.Floats((long)Pool.ThreadCount * perWorker);
        fixed (float* px = x, py = y, ps = scratch)
        {
            var body = new GroupedLinearBody
            {
                Weights = weights, X = px, Y = py, Scratch = ps, M = m, N = n, K = k,
                XTokenStride = xTokenStride, XGroupStride = xGroupStride, YTokenStride = yTokenStride, YGroupStride = yGroupStride,
                Pool = Pool,
            };
            // Small problems (a tiny model's heads, a one-token decode of a small model) run on the caller: waking the
            // pool costs more than the few thousand multiply-adds a group holds.
            long work = (long)groups * m * n * k;
            Pool.For(groups, work < 1 << 18 ? groups : 1, ref body);
        }
    }

    private unsafe struct GroupedLinearBody : IRangeBody
    {
        public IReadOnlyList<Tensor> Weights;
        public ComputePool Pool;
        public float* X, Y, Scratch;
        public int M, N, K, XTokenStride, XGroupStride, YTokenStride, YGroupStride;

        public readonly void Execute(int start, int end, int worker)
        {
            var xs = new Span<float>(Scratch + (long)worker * M * (K + N), M * K);
            var ys = new Span<float>(Scratch + (long)worker * M * (K + N) + (long)M * K, M * N);
            for (int g = start; g < end; g++)
            {
                for (int t = 0; t < M; t++)
                    new ReadOnlySpan<float>(X + (long)t * XTokenStride + (long)g * XGroupStride, K).CopyTo(xs.Slice(t * K, K));
                MatMul.Linear(Weights[g], xs, ys, M, Pool);
                for (int t = 0; t < M; t++)
                    ys.Slice(t * N, N).CopyTo(new Span<float>(Y + (long)t * YTokenStride + (long)g * YGroupStride, N));
            }
        }
    }

    public void AddBias(Tensor bias, Span<float> y, int m)
    {
        var b = F32(bias, "bias");
        if (y.Length < (long)m * b.Length) throw new ArgumentException($"AddBias: {m} rows of {b.Length} need {(long)m * b.Length} floats, got {y.Length}");
        for (int r = 0; r < m; r++)
        {
            var row = y.Slice(r * b.Length, b.Length);
            TensorPrimitives.Add(row, b, row);
        }
    }

    public void Embed(Tensor table, ReadOnlySpan<int> ids, Span<float> output) => Embedding.Gather(table, ids, output);

    public void RmsNorm(ReadOnlySpan<float> x, Tensor weight, Span<float> y, int rows, float eps)
        => Normalization.RmsNormRows(x, F32(weight, "norm weight"), y, rows, eps);

    public void Rope(RopeTable table, Span<float> x, int tokens, int tokenStride, int heads, int headStride, int offset, int firstPosition)
    {
        for (int t = 0; t < tokens; t++)
            table.ApplyHeads(x.Slice(t * tokenStride), heads, headStride, offset, firstPosition + t);
    }

    [System.Runtime.CompilerServices.SkipLocalsInit] // the chunk buffer is written before it is read; zeroing it cost more than the math
    public void SwiGlu(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        if (up.Length != gate.Length || y.Length != gate.Length)
            throw new ArgumentException($"SwiGlu: gate {gate.Length}, up {up.Length}, output {y.Length} must match");
        // In chunks through a stack buffer: no heap scratch whatever the width, and y may alias gate or up because each
        // chunk reads its inputs before writing its outputs.
        const int Chunk = 512;
        Span<float> silu = stackalloc float[Chunk];
        for (int i = 0; i < gate.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, gate.Length - i);
            var g = gate.Slice(i, n);
            var s = silu[..n];
            TensorPrimitives.Sigmoid(g, s);
            TensorPrimitives.Multiply(s, g, s);
            TensorPrimitives.Multiply(s, up.Slice(i, n), y.Slice(i, n));
        }
    }

    public void Attention(in AttentionShape shape, ReadOnlySpan<AttentionSequence> sequences, ReadOnlySpan<int> pageTable, in KvPageView kv,
        ReadOnlySpan<float> queries, Span<float> output)
    {
        int longest = 0;
        foreach (var s in sequences) longest = Math.Max(longest, s.FirstPosition + s.Tokens);
        var scores = Workspace.Current.Scores(Kernels.Attention.ScratchLength(kv, longest, Pool.ThreadCount));
        Kernels.Attention.Paged(shape, sequences, pageTable, kv, queries, output, scores, Pool);
    }

    public void MoeDispatchCombine(ExpertWeights experts, ReadOnlySpan<float> x, int tokens, ReadOnlySpan<int> ids,
        ReadOnlySpan<float> weights, int topK, Span<float> y)
    {
        int h = experts.HiddenSize, f = experts.IntermediateSize, e = experts.Count;
        int slots = checked(tokens * topK);
        if (x.Length < (long)tokens * h || y.Length < (long)tokens * h)
            throw new ArgumentException($"MoE: {tokens} tokens of {h} need {(long)tokens * h} floats; x has {x.Length}, y {y.Length}");
        if (ids.Length < slots || weights.Length < slots)
            throw new ArgumentException($"MoE: {tokens} tokens × top-{topK} need {slots} ids and weights; got {ids.Length} and {weights.Length}");

        // Counting sort of the (token, slot) pairs by expert, so each expert runs once over all its tokens as one GEMM.
        var ws = Workspace.Current;
        var counts = ws.Ints(0, e + 1);
        var order = ws.Ints(1, slots);
        counts.Clear();
        for (int i = 0; i < slots; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)e) throw new ArgumentOutOfRangeException(nameof(ids), id, $"expert id outside [0, {e})");
            counts[id + 1]++;
        }
        for (int i = 0; i < e; i++) counts[i + 1] += counts[i]; // counts[i] = first slot of expert i
        var next = ws.Ints(2, e);
        counts[..e].CopyTo(next);
        for (int i = 0; i < slots; i++) order[next[ids[i]]++] = i;

        var buffers = ws.Floats(2L * tokens * h + 2L * tokens * f);
        var rows = buffers[..(tokens * h)];
        var outRows = buffers.Slice(tokens * h, tokens * h);
        var gate = buffers.Slice(2 * tokens * h, tokens * f);
        var up = buffers.Slice(2 * tokens * h + tokens * f, tokens * f);

        y[..(tokens * h)].Clear();
        for (int ex = 0; ex < e; ex++)
        {
            int start = counts[ex], n = counts[ex + 1] - start;
            if (n == 0) continue;
            for (int i = 0; i < n; i++)
                x.Slice(order[start + i] / topK * h, h).CopyTo(rows.Slice(i * h, h));
            Linear(experts.Gate(ex), rows[..(n * h)], gate[..(n * f)], n);
            Linear(experts.Up(ex), rows[..(n * h)], up[..(n * f)], n);
            SwiGlu(gate[..(n * f)], up[..(n * f)], gate[..(n * f)]);
            Linear(experts.Down(ex), gate[..(n * f)], outRows[..(n * h)], n);
            for (int i = 0; i < n; i++)
            {
                int slot = order[start + i];
                var dst = y.Slice(slot / topK * h, h);
                TensorPrimitives.MultiplyAdd(outRows.Slice(i * h, h), weights[slot], dst, dst);
            }
        }
    }

    private static ReadOnlySpan<float> F32(Tensor t, string what)
    {
        if (t.DType != DType.F32) throw new ArgumentException($"{what} must be F32, got {t.DType} (convert small vectors when loading)");
        return t.AsSpan<float>();
    }

    /// <summary>Grow-only scratch of the calling thread.</summary>
    private sealed class Workspace
    {
        [ThreadStatic] private static Workspace? t_current;
        public static Workspace Current => t_current ??= new Workspace();

        private float[] _floats = [];
        private float[] _scores = [];
        private readonly int[][] _ints = [[], [], []];

        public Span<float> Floats(long n) => Grow(ref _floats, n).AsSpan(0, (int)n);
        public Span<float> Scores(long n) => Grow(ref _scores, n).AsSpan(0, (int)n);

        public Span<int> Ints(int which, int n)
        {
            if (_ints[which].Length < n) _ints[which] = new int[Math.Max(n, _ints[which].Length * 2)];
            return _ints[which].AsSpan(0, n);
        }

        private static float[] Grow(ref float[] a, long n)
        {
            if (n > Array.MaxLength) throw new InvalidOperationException($"scratch of {n} floats is too large");
            if (a.Length < n) a = new float[Math.Max(n, Math.Min((long)a.Length * 2, Array.MaxLength))];
            return a;
        }
    }
}
