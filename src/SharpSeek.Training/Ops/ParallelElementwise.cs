using System.Numerics;
using System.Numerics.Tensors;
using SharpSeek.Tensors.Threading;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Ops;

/// <summary>Vectorized elementwise loops over long buffers, split across the pool in fixed-size chunks.</summary>
internal static unsafe class ParallelElementwise
{
    /// <summary>Elements per chunk: large enough to amortize a dispatch, small enough to split a layer's activations.</summary>
    public const int Chunk = 16384;

    /// <summary>y = a + b.</summary>
    public static void Add<T>(ComputePool pool, T* a, T* b, T* y, long n) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => Run(pool, n, (s, len) => TensorPrimitives.Add(new ReadOnlySpan<T>(a + s, len), new ReadOnlySpan<T>(b + s, len), new Span<T>(y + s, len)));

    /// <summary>dst += src.</summary>
    public static void AddInto<T>(ComputePool pool, T* dst, T* src, long n) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => Run(pool, n, (s, len) => TensorPrimitives.Add(new ReadOnlySpan<T>(dst + s, len), new ReadOnlySpan<T>(src + s, len), new Span<T>(dst + s, len)));

    /// <summary>dst += scale · src.</summary>
    public static void AddScaledInto<T>(ComputePool pool, T* dst, T* src, T scale, long n) where T : unmanaged, IBinaryFloatingPointIeee754<T>
        => Run(pool, n, (s, len) => TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(src + s, len), scale, new ReadOnlySpan<T>(dst + s, len), new Span<T>(dst + s, len)));

    private static void Run(ComputePool pool, long n, Action<long, int> body)
    {
        int chunks = checked((int)((n + Chunk - 1) / Chunk));
        ParallelRange.For(pool, chunks, 1, (start, end) =>
        {
            for (int c = start; c < end; c++)
            {
                long s = (long)c * Chunk;
                body(s, (int)Math.Min(Chunk, n - s));
            }
        });
    }
}
