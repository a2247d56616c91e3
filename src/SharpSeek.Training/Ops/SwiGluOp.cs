using System.Numerics;
using System.Numerics.Tensors;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Ops;

/// <summary>
/// SwiGLU's gate: y = silu(g) ⊙ u with silu(g) = g·σ(g). Nothing is saved beyond the inputs; σ is recomputed.
/// Backward: du = dy · silu(g); dg = dy · u · σ(g) · (1 + g·(1 − σ(g))).
/// </summary>
public static unsafe class SwiGluOp
{
    public static Node<T> SwiGlu<T>(this Tape<T> tape, Node<T> gate, Node<T> up) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (gate.Rows != up.Rows || gate.Cols != up.Cols) throw new ArgumentException($"SwiGLU: gate {gate} and up {up} differ in shape");
        var y = tape.NewNode(gate.Rows, gate.Cols, tape.AnyRequiresGrad(gate, up));
        Forward(tape, gate.Value, up.Value, y.Value, y.Length);
        if (y.RequiresGrad) tape.Record(new Step<T>(tape, gate, up, y), y);
        return y;
    }

    /// <summary>y = silu(g) ⊙ u over n elements (also used inside the grouped experts).</summary>
    internal static void Forward<T>(Tape<T> tape, T* g, T* u, T* y, long n) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Chunks(tape, n, (s, len) =>
        {
            var gs = new ReadOnlySpan<T>(g + s, len);
            var ys = new Span<T>(y + s, len);
            TensorPrimitives.Sigmoid(gs, ys);
            TensorPrimitives.Multiply(ys, gs, ys);
            TensorPrimitives.Multiply(ys, new ReadOnlySpan<T>(u + s, len), ys);
        });
    }

    /// <summary>dg += ∂, du += ∂ for n elements (either may be null to skip it).</summary>
    internal static void Backward<T>(Tape<T> tape, T* g, T* u, T* dy, T* dg, T* du, long n) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Chunks(tape, n, (s, len) =>
        {
            var sig = ThreadScratch<T>.Get(0, len);
            var silu = ThreadScratch<T>.Get(1, len);
            var gs = new ReadOnlySpan<T>(g + s, len);
            var dys = new ReadOnlySpan<T>(dy + s, len);
            TensorPrimitives.Sigmoid(gs, sig);
            TensorPrimitives.Multiply(gs, sig, silu);
            if (du != null)
            {
                var dus = new Span<T>(du + s, len);
                TensorPrimitives.MultiplyAdd(dys, silu, dus, dus);
            }
            if (dg != null)
            {
                // dy · u · (σ + silu·(1 − σ))
                var factor = ThreadScratch<T>.Get(2, len);
                TensorPrimitives.Subtract(T.One, sig, factor);
                TensorPrimitives.MultiplyAdd(silu, factor, sig, factor);
                TensorPrimitives.Multiply(factor, new ReadOnlySpan<T>(u + s, len), factor);
                var dgs = new Span<T>(dg + s, len);
                TensorPrimitives.MultiplyAdd(dys, factor, dgs, dgs);
            }
        });
    }

    private static void Chunks<T>(Tape<T> tape, long n, Action<long, int> body) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        const int chunk = 4096;
        int count = checked((int)((n + chunk - 1) / chunk));
        ParallelRange.For(tape.Pool, count, 1, (s, e) =>
        {
            for (int c = s; c < e; c++)
            {
                long start = (long)c * chunk;
                body(start, (int)Math.Min(chunk, n - start));
            }
        });
    }

    private sealed class Step<T>(Tape<T> tape, Node<T> gate, Node<T> up, Node<T> y) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
            => SwiGluOp.Backward(tape, gate.Value, up.Value, y.Grad, gate.RequiresGrad ? gate.Grad : null, up.RequiresGrad ? up.Grad : null, y.Length);
    }
}
