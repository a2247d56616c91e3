using System.Numerics;
using System.Numerics.Tensors;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Ops;

/// <summary>
/// RMSNorm per row: y = x · r · w with r = 1/√(mean(x²) + ε). Keeps only r per row; x is the input node itself.
/// Backward: with g = dy ⊙ w, dx = r·g − x · r³ · (g·x) / n, and dw = Σ_rows dy ⊙ x · r.
/// </summary>
public static unsafe class RmsNormOp
{
    /// <summary>Rows per partial sum of dw: a fixed split, so the reduction order does not depend on the thread count.</summary>
    private const int RowsPerPartial = 32;

    public static Node<T> RmsNorm<T>(this Tape<T> tape, Node<T> x, Node<T> weight, double eps) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = x.Cols, rows = x.Rows;
        if (weight.Length != n) throw new ArgumentException($"RMSNorm: weight has {weight.Length} values for rows of {n}");
        var y = tape.NewNode(rows, n, tape.AnyRequiresGrad(x, weight));
        T* r = tape.Rent(rows);
        T* xv = x.Value, yv = y.Value, wv = weight.Value;
        T epsT = T.CreateTruncating(eps), inv = T.One / T.CreateTruncating(n);
        ParallelRange.For(tape.Pool, rows, 16, (s, e) =>
        {
            var w = new ReadOnlySpan<T>(wv, n);
            for (int i = s; i < e; i++)
            {
                var xi = new ReadOnlySpan<T>(xv + (long)i * n, n);
                var yi = new Span<T>(yv + (long)i * n, n);
                T ri = T.One / T.Sqrt(TensorPrimitives.SumOfSquares(xi) * inv + epsT);
                r[i] = ri;
                TensorPrimitives.Multiply(xi, w, yi);
                TensorPrimitives.Multiply(yi, ri, yi);
            }
        });
        if (y.RequiresGrad) tape.Record(new Step<T>(tape, x, weight, y, r), y);
        else tape.Return(r);
        return y;
    }

    private sealed class Step<T>(Tape<T> tape, Node<T> x, Node<T> weight, Node<T> y, T* r) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            int n = x.Cols, rows = x.Rows;
            T* xv = x.Value, wv = weight.Value, dy = y.Grad;
            T* rr = r;
            T inv = T.One / T.CreateTruncating(n);
            if (x.RequiresGrad)
            {
                T* dx = x.Grad;
                ParallelRange.For(tape.Pool, rows, 16, (s, e) =>
                {
                    var g = ThreadScratch<T>.Get(0, n);
                    var w = new ReadOnlySpan<T>(wv, n);
                    for (int i = s; i < e; i++)
                    {
                        var xi = new ReadOnlySpan<T>(xv + (long)i * n, n);
                        var dxi = new Span<T>(dx + (long)i * n, n);
                        TensorPrimitives.Multiply(new ReadOnlySpan<T>(dy + (long)i * n, n), w, g);
                        T ri = rr[i];
                        T c = ri * ri * ri * TensorPrimitives.Dot<T>(g, xi) * inv;
                        TensorPrimitives.MultiplyAdd(g, ri, dxi, dxi);
                        TensorPrimitives.MultiplyAdd(xi, -c, dxi, dxi);
                    }
                });
            }
            if (weight.RequiresGrad)
            {
                int parts = (rows + RowsPerPartial - 1) / RowsPerPartial;
                T* partial = tape.RentZeroed((long)parts * n);
                ParallelRange.For(tape.Pool, parts, 1, (s, e) =>
                {
                    var t = ThreadScratch<T>.Get(0, n);
                    for (int p = s; p < e; p++)
                    {
                        var acc = new Span<T>(partial + (long)p * n, n);
                        for (int i = p * RowsPerPartial; i < Math.Min(rows, (p + 1) * RowsPerPartial); i++)
                        {
                            TensorPrimitives.Multiply(new ReadOnlySpan<T>(dy + (long)i * n, n), new ReadOnlySpan<T>(xv + (long)i * n, n), t);
                            TensorPrimitives.MultiplyAdd(t, rr[i], acc, acc);
                        }
                    }
                });
                var dw = new Span<T>(weight.Grad, n);
                for (int p = 0; p < parts; p++) TensorPrimitives.Add(dw, new ReadOnlySpan<T>(partial + (long)p * n, n), dw);
                tape.Return(partial);
            }
        }
    }
}
