using SharpSeek.Tensors.Threading;

namespace SharpSeek.Tensors.Kernels;

/// <summary>Single-precision general matrix multiply, BLAS semantics: C = alpha·op(A)·op(B) + beta·C, row-major.</summary>
public static unsafe partial class Gemm
{
    /// <summary>
    /// C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C. Row-major; op(X) = Xᵀ when the flag is set, so
    /// <c>transB: true</c> with B = W[n,k] computes x·Wᵀ (a linear layer).
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        ComputePool? pool = null)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        MultiplyCore(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, pool ?? ComputePool.Shared);
    }

    internal static void Validate(bool transA, bool transB, int m, int n, int k, int aLen, int lda, int bLen, int ldb, int cLen, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"GEMM sizes must be non-negative (m={m}, n={n}, k={k})");
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        Check("A", aRows, aCols, aLen, lda);
        Check("B", bRows, bCols, bLen, ldb);
        Check("C", m, n, cLen, ldc);

        static void Check(string name, int rows, int cols, int len, int ld)
        {
            if (rows == 0 || cols == 0) return;
            if (ld < cols) throw new ArgumentException($"GEMM: leading dimension of {name} ({ld}) is smaller than its {cols} columns");
            long need = (long)(rows - 1) * ld + cols;
            if (len < need) throw new ArgumentException($"GEMM: {name} is [{rows}, {cols}] with leading dimension {ld} and needs {need} elements, but its buffer holds {len}");
        }
    }
}
