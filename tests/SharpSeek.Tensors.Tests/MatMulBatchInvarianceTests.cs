using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Tests;

/// <summary>
/// Batch invariance of <see cref="MatMul.Linear"/>: row i of a call with m rows must be bitwise identical to a call
/// with that row alone, whatever the other rows, the pool's thread count or the tiles the rows land in. The
/// continuous-batching engine relies on it: a sequence's greedy tokens must not change when it is batched with others.
/// </summary>
public sealed class MatMulBatchInvarianceTests : IDisposable
{
    private readonly ComputePool _pool1 = new(1);
    private readonly ComputePool _pool2 = new(2);

    public void Dispose()
    {
        _pool1.Dispose();
        _pool2.Dispose();
    }

    private static readonly DType[] s_types = [DType.F32, DType.F16, DType.BF16, DType.F8E4M3, DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q6_K];

    public static TheoryData<DType, int, int> Cases()
    {
        var data = new TheoryData<DType, int, int>();
        foreach (var t in s_types)
            foreach (int m in new[] { 1, 2, 3, 5, 8, 9, 17, 67, 130 })
            {
                data.Add(t, KFor(t), m);
                if (t == DType.F8E4M3) data.Add(t, 9 * 64, m); // whole 64-column groups: the table-lookup path (AVX-512 VBMI)
            }
        return data;
    }

    /// <summary>K with a ragged tail for the float formats (FP8: the arithmetic path); an odd block count (with whole
    /// groups of eight blocks before it) for the block formats.</summary>
    private static int KFor(DType t) => t switch
    {
        DType.Q4_K or DType.Q6_K => 5 * 256,
        DType.Q8_0 or DType.Q4_0 => 37 * 32,
        DType.F8E4M3 => 3 * 128 + 64 + 23,
        _ => 1031,
    };

    private static void AssertRowsBitwiseEqual(float[] expected, float[] actual, int row, int n, string what)
    {
        for (int j = 0; j < n; j++)
        {
            int e = BitConverter.SingleToInt32Bits(expected[j]), a = BitConverter.SingleToInt32Bits(actual[row * n + j]);
            Assert.True(e == a, $"{what}: y[{row},{j}] = {actual[row * n + j]:R} but the row alone gives {expected[j]:R}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachRowOfABatch_EqualsThatRowAlone_Bitwise(DType type, int k, int m)
    {
        // 301 weight rows: several cache tiles and parallel chunks, and edge tiles of every width.
        const int n = 301;
        using var weight = MatMulTests.MakeWeight(type, n, k, 8000 + (int)type);
        var x = MatMulTests.Activations(m, k, 31 + m);
        var alone = new float[m][];
        for (int i = 0; i < m; i++)
        {
            alone[i] = new float[n];
            MatMul.Linear(weight, x.AsSpan(i * k, k), alone[i], 1, _pool1);
        }
        foreach (var pool in new[] { _pool1, _pool2 })
        {
            var y = new float[m * n];
            MatMul.Linear(weight, x, y, m, pool);
            for (int i = 0; i < m; i++) AssertRowsBitwiseEqual(alone[i], y, i, n, $"{type}, m = {m}, {pool.ThreadCount} threads");
        }
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.BF16)]
    [InlineData(DType.F8E4M3)]
    [InlineData(DType.Q8_0)]
    [InlineData(DType.Q4_K)]
    [InlineData(DType.Q6_K)]
    public void ARow_DoesNotDependOnItsNeighboursOrPosition(DType type)
    {
        // The same row at different positions among different neighbours, and against a weight view that moves the
        // tile boundaries, always gives the same bits.
        const int n = 133;
        int k = KFor(type);
        using var weight = MatMulTests.MakeWeight(type, n, k, 9000 + (int)type);
        var probe = MatMulTests.Activations(1, k, 5);
        var reference = new float[n];
        MatMul.Linear(weight, probe, reference, 1, _pool2);
        foreach (var (m, at, seed) in new[] { (7, 0, 1), (7, 6, 2), (12, 5, 3), (33, 32, 4), (33, 13, 5) })
        {
            var x = MatMulTests.Activations(m, k, 100 + seed);
            probe.CopyTo(x.AsSpan(at * k, k));
            foreach (var pool in new[] { _pool1, _pool2 })
            {
                var y = new float[m * n];
                MatMul.Linear(weight, x, y, m, pool);
                AssertRowsBitwiseEqual(reference, y, at, n, $"{type}, probe at row {at} of {m}, {pool.ThreadCount} threads");
            }
        }
        if (type == DType.F8E4M3) return; // a view off the 128-row scale grid has no block scales of its own
        var view = weight.Narrow(3, n - 3);
        var narrowed = new float[5 * (n - 3)];
        var xs = MatMulTests.Activations(5, k, 200);
        probe.CopyTo(xs.AsSpan(2 * k, k));
        MatMul.Linear(view, xs, narrowed, 5, _pool2);
        for (int j = 0; j < n - 3; j++)
            Assert.Equal(BitConverter.SingleToInt32Bits(reference[3 + j]), BitConverter.SingleToInt32Bits(narrowed[2 * (n - 3) + j]));
    }
}
