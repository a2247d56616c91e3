using System.Numerics;
using System.Runtime.CompilerServices;
using SharpSeek.Tensors.Kernels;
using SharpSeek.Tensors.Threading;

namespace SharpSeek.Training.Autodiff;

/// <summary>
/// C = alpha·op(A)·op(B) + beta·C (row-major, BLAS semantics) for either element type the ops run in: f32 goes to the
/// packed AVX-512 <see cref="Gemm"/>; f64 (the gradient-check mode) goes to a plain triple loop, which is all the
/// tiny float64 models need and is exact in the way finite differences want.
/// </summary>
internal static unsafe class MatMul
{
    public static void Multiply<T>(bool transA, bool transB, int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb,
        T beta, T* c, int ldc, ComputePool pool) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (m == 0 || n == 0) return;
        if (typeof(T) == typeof(float))
        {
            int aRows = transA ? k : m, aCols = transA ? m : k;
            int bRows = transB ? n : k, bCols = transB ? k : n;
            Gemm.Multiply(transA, transB, m, n, k, Unsafe.As<T, float>(ref alpha),
                new ReadOnlySpan<float>(a, Extent(aRows, aCols, lda)), lda,
                new ReadOnlySpan<float>(b, Extent(bRows, bCols, ldb)), ldb,
                Unsafe.As<T, float>(ref beta), new Span<float>(c, Extent(m, n, ldc)), ldc, pool);
            return;
        }
        ReferenceMultiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, pool);
    }

    private static int Extent(int rows, int cols, int ld) => rows == 0 || cols == 0 ? 0 : checked((rows - 1) * ld + cols);

    private static void ReferenceMultiply<T>(bool transA, bool transB, int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb,
        T beta, T* c, int ldc, ComputePool pool) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ParallelRange.For(pool, m, 4, (start, end) =>
        {
            for (int i = start; i < end; i++)
                for (int j = 0; j < n; j++)
                {
                    T sum = T.Zero;
                    for (int p = 0; p < k; p++)
                        sum += (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]) * (transB ? b[(long)j * ldb + p] : b[(long)p * ldb + j]);
                    T* dst = c + (long)i * ldc + j;
                    *dst = alpha * sum + (beta == T.Zero ? T.Zero : beta * *dst);
                }
        });
    }
}
