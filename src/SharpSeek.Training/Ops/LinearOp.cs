using System.Numerics;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Precision;

namespace SharpSeek.Training.Ops;

/// <summary>
/// y = x·Wᵀ for x [n, in] and W [out, in] (HF's layout): one GEMM forward, two backward (dx = dy·W, dW += dyᵀ·x),
/// all through the packed GEMM with transposes instead of transposed copies, operands rounded per
/// <see cref="GemmPrecision"/>.
/// </summary>
public static unsafe class LinearOp
{
    public static Node<T> Linear<T>(this Tape<T> tape, Node<T> x, Node<T> weight, GemmPrecision precision) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (x.Cols != weight.Cols) throw new ArgumentException($"linear: input {x} does not match weight {weight} (columns must agree)");
        var y = tape.NewNode(x.Rows, weight.Rows, tape.AnyRequiresGrad(x, weight));
        PrecisionGemm.Forward(tape, precision, x.Value, x.Rows, x.Cols, weight.Value, weight.Rows, y.Value, accumulate: false);
        if (y.RequiresGrad) tape.Record(new Step<T>(tape, x, weight, y, precision), y);
        return y;
    }

    private sealed class Step<T>(Tape<T> tape, Node<T> x, Node<T> w, Node<T> y, GemmPrecision precision) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            if (x.RequiresGrad) PrecisionGemm.BackwardInput(tape, precision, y.Grad, x.Rows, w.Rows, w.Value, w.Cols, x.Grad);
            if (w.RequiresGrad) PrecisionGemm.BackwardWeight(tape, precision, y.Grad, x.Rows, w.Rows, x.Value, w.Cols, w.Grad);
        }
    }
}
