using System.Numerics;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Precision;

namespace SharpSeek.Training.Ops;

/// <summary>
/// The output head over many rows without its [rows, vocab] logits ever stored whole: 256 rows at a time, the logits
/// are made, handed row by row to a visitor (which may turn them into ∂loss/∂logits in place), and, when gradient
/// buffers are given, pushed at once into the input and weight gradients. The fused cross-entropy and the per-token
/// log-probability objective are this pass with different visitors.
/// </summary>
internal static unsafe class HeadChunks
{
    public const int Rows = 256;

    /// <summary>Sees the logits of row <paramref name="row"/> (of the whole batch); runs in parallel over a chunk's rows.</summary>
    public delegate void RowVisitor<T>(Span<T> logits, int row);

    /// <summary>
    /// Visits every row's logits x·Wᵀ; with <paramref name="dx"/> / <paramref name="dw"/>, then adds (visited logits)·W
    /// into dx and (visited logits)ᵀ·x into dw.
    /// </summary>
    public static void Run<T>(Tape<T> tape, Node<T> x, Node<T> head, GemmPrecision precision, RowVisitor<T> visit, T* dx = null, T* dw = null)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = x.Rows, h = x.Cols, vocab = head.Rows;
        int chunk = Math.Min(Rows, Math.Max(n, 1));
        T* logits = tape.Rent((long)chunk * vocab);
        try
        {
            for (int c0 = 0; c0 < n; c0 += chunk)
            {
                int rows = Math.Min(chunk, n - c0);
                PrecisionGemm.Forward(tape, precision, x.Value + (long)c0 * h, rows, h, head.Value, vocab, logits, accumulate: false);
                int first = c0;
                ParallelRange.For(tape.Pool, rows, 8, (s, e) =>
                {
                    for (int i = s; i < e; i++) visit(new Span<T>(logits + (long)i * vocab, vocab), first + i);
                });
                if (dx != null) PrecisionGemm.BackwardInput(tape, precision, logits, rows, vocab, head.Value, h, dx + (long)c0 * h);
                if (dw != null) PrecisionGemm.BackwardWeight(tape, precision, logits, rows, vocab, x.Value + (long)c0 * h, h, dw);
            }
        }
        finally { tape.Return(logits); }
    }
}
