using System.Numerics;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Ops;

/// <summary>
/// Backward of a fused head + loss whose forward already computed the gradients for a unit upstream gradient
/// (dx and dW per unit of loss): scales them by the loss's gradient and adds them in. Shared by cross-entropy and
/// token log-probs, which differ only in how the forward builds those unit gradients.
/// </summary>
internal sealed unsafe class ScaledUnitGradientStep<T>(Tape<T> tape, Node<T> x, Node<T> head, Node<T> loss, T* dxUnit, T* dwUnit) : TapeStep
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public override void Backward()
    {
        T g = loss.Grad[0];
        if (dxUnit != null)
        {
            ParallelElementwise.AddScaledInto(tape.Pool, x.Grad, dxUnit, g, x.Length);
            tape.Return(dxUnit);
        }
        if (dwUnit != null)
        {
            ParallelElementwise.AddScaledInto(tape.Pool, head.Grad, dwUnit, g, head.Length);
            tape.Return(dwUnit);
        }
    }
}
