using System.Numerics;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Ops;

/// <summary>Residual addition, column concatenation and weighted sums of scalar losses.</summary>
public static unsafe class BasicOps
{
    /// <summary>y = a + b (same shape): the residual stream.</summary>
    public static Node<T> Add<T>(this Tape<T> tape, Node<T> a, Node<T> b) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (a.Rows != b.Rows || a.Cols != b.Cols) throw new ArgumentException($"add: {a} and {b} differ in shape");
        var y = tape.NewNode(a.Rows, a.Cols, tape.AnyRequiresGrad(a, b));
        ParallelElementwise.Add(tape.Pool, a.Value, b.Value, y.Value, y.Length);
        if (y.RequiresGrad) tape.Record(new AddStep<T>(tape, a, b, y), y);
        return y;
    }

    private sealed class AddStep<T>(Tape<T> tape, Node<T> a, Node<T> b, Node<T> y) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            if (a.RequiresGrad) ParallelElementwise.AddInto(tape.Pool, a.Grad, y.Grad, y.Length);
            if (b.RequiresGrad) ParallelElementwise.AddInto(tape.Pool, b.Grad, y.Grad, y.Length);
        }
    }

    /// <summary>y = [a | b] along columns (MTP's concat of the normalized embedding and hidden state).</summary>
    public static Node<T> ConcatColumns<T>(this Tape<T> tape, Node<T> a, Node<T> b) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (a.Rows != b.Rows) throw new ArgumentException($"concat: {a} and {b} differ in rows");
        int ca = a.Cols, cb = b.Cols, cy = ca + cb;
        var y = tape.NewNode(a.Rows, cy, tape.AnyRequiresGrad(a, b));
        T* av = a.Value, bv = b.Value, yv = y.Value;
        ParallelRange.For(tape.Pool, a.Rows, 64, (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                new ReadOnlySpan<T>(av + (long)r * ca, ca).CopyTo(new Span<T>(yv + (long)r * cy, ca));
                new ReadOnlySpan<T>(bv + (long)r * cb, cb).CopyTo(new Span<T>(yv + (long)r * cy + ca, cb));
            }
        });
        if (y.RequiresGrad) tape.Record(new ConcatStep<T>(tape, a, b, y), y);
        return y;
    }

    private sealed class ConcatStep<T>(Tape<T> tape, Node<T> a, Node<T> b, Node<T> y) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            int ca = a.Cols, cb = b.Cols, cy = y.Cols;
            T* dy = y.Grad;
            T* da = a.RequiresGrad ? a.Grad : null;
            T* db = b.RequiresGrad ? b.Grad : null;
            ParallelRange.For(tape.Pool, y.Rows, 64, (s, e) =>
            {
                for (int r = s; r < e; r++)
                {
                    if (da != null) System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<T>(da + (long)r * ca, ca), new ReadOnlySpan<T>(dy + (long)r * cy, ca), new Span<T>(da + (long)r * ca, ca));
                    if (db != null) System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<T>(db + (long)r * cb, cb), new ReadOnlySpan<T>(dy + (long)r * cy + ca, cb), new Span<T>(db + (long)r * cb, cb));
                }
            });
        }
    }

    /// <summary>Σ weight_i · term_i over scalar nodes: the V3 objective L_main + (λ/D)·Σ L_MTP + balance terms.</summary>
    public static Node<T> WeightedSum<T>(this Tape<T> tape, IReadOnlyList<(Node<T> Term, double Weight)> terms) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (terms.Count == 0) throw new ArgumentException("weighted sum of nothing");
        var y = tape.NewNode(1, 1, tape.AnyRequiresGrad(terms.Select(t => t.Term).ToArray()));
        T sum = T.Zero;
        foreach (var (term, w) in terms)
        {
            if (term.Length != 1) throw new ArgumentException($"weighted sum takes scalars, got {term}");
            sum += T.CreateTruncating(w) * term.Value[0];
        }
        y.Value[0] = sum;
        if (y.RequiresGrad) tape.Record(new WeightedSumStep<T>(terms, y), y);
        return y;
    }

    private sealed class WeightedSumStep<T>(IReadOnlyList<(Node<T> Term, double Weight)> terms, Node<T> y) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            T g = y.Grad[0];
            foreach (var (term, w) in terms)
                if (term.RequiresGrad) term.Grad[0] += T.CreateTruncating(w) * g;
        }
    }
}
