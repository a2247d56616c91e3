using System.Numerics;
using System.Numerics.Tensors;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Ops;

/// <summary>
/// Moving tokens to experts and back: <see cref="DispatchToExperts"/> gathers each (token, choice) row into the
/// expert-sorted order; <see cref="CombineFromExperts"/> scatters the expert outputs back, weighted:
/// y[t] = Σ_j w[t, j] · out[slot(t, j)]. On a cluster these are the two all-to-all exchanges of expert parallelism.
/// Both backward passes loop over tokens, so each gradient row has one writer and a fixed summation order.
/// </summary>
public static unsafe class ExpertDispatchOps
{
    public static Node<T> DispatchToExperts<T>(this Tape<T> tape, Node<T> x, RoutingPlan plan) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int h = x.Cols;
        if (x.Rows != plan.Tokens) throw new ArgumentException($"dispatch: {x.Rows} rows for a plan of {plan.Tokens} tokens");
        var y = tape.NewNode(plan.Assignments, h, tape.AnyRequiresGrad(x));
        T* xv = x.Value, yv = y.Value;
        ParallelRange.For(tape.Pool, plan.Assignments, 64, (s, e) =>
        {
            for (int slot = s; slot < e; slot++)
                new ReadOnlySpan<T>(xv + (long)plan.TokenOfSlot[slot] * h, h).CopyTo(new Span<T>(yv + (long)slot * h, h));
        });
        if (y.RequiresGrad) tape.Record(new DispatchStep<T>(tape, x, y, plan), y);
        return y;
    }

    private sealed class DispatchStep<T>(Tape<T> tape, Node<T> x, Node<T> y, RoutingPlan plan) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            int h = x.Cols, k = plan.TopK;
            T* dx = x.Grad, dy = y.Grad;
            ParallelRange.For(tape.Pool, plan.Tokens, 32, (s, e) =>
            {
                for (int t = s; t < e; t++)
                {
                    var dst = new Span<T>(dx + (long)t * h, h);
                    for (int j = 0; j < k; j++)
                        TensorPrimitives.Add(dst, new ReadOnlySpan<T>(dy + (long)plan.SlotOf[t * k + j] * h, h), dst);
                }
            });
        }
    }

    public static Node<T> CombineFromExperts<T>(this Tape<T> tape, Node<T> expertOutputs, Node<T> weights, RoutingPlan plan)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int h = expertOutputs.Cols, k = plan.TopK;
        if (expertOutputs.Rows != plan.Assignments || weights.Rows != plan.Tokens || weights.Cols != k)
            throw new ArgumentException($"combine: outputs {expertOutputs} and weights {weights} do not match the plan");
        var y = tape.NewNode(plan.Tokens, h, tape.AnyRequiresGrad(expertOutputs, weights));
        T* ov = expertOutputs.Value, wv = weights.Value, yv = y.Value;
        ParallelRange.For(tape.Pool, plan.Tokens, 32, (s, e) =>
        {
            for (int t = s; t < e; t++)
            {
                var dst = new Span<T>(yv + (long)t * h, h);
                dst.Clear();
                for (int j = 0; j < k; j++)
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(ov + (long)plan.SlotOf[t * k + j] * h, h), wv[(long)t * k + j], dst, dst);
            }
        });
        if (y.RequiresGrad) tape.Record(new CombineStep<T>(tape, expertOutputs, weights, y, plan), y);
        return y;
    }

    private sealed class CombineStep<T>(Tape<T> tape, Node<T> outputs, Node<T> weights, Node<T> y, RoutingPlan plan) : TapeStep
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            int h = outputs.Cols, k = plan.TopK;
            T* dy = y.Grad, ov = outputs.Value, wv = weights.Value;
            T* dOut = outputs.RequiresGrad ? outputs.Grad : null;
            T* dw = weights.RequiresGrad ? weights.Grad : null;
            ParallelRange.For(tape.Pool, plan.Tokens, 32, (s, e) =>
            {
                for (int t = s; t < e; t++)
                {
                    var g = new ReadOnlySpan<T>(dy + (long)t * h, h);
                    for (int j = 0; j < k; j++)
                    {
                        long slot = plan.SlotOf[t * k + j];
                        if (dOut != null)
                        {
                            var d = new Span<T>(dOut + slot * h, h);
                            TensorPrimitives.MultiplyAdd(g, wv[(long)t * k + j], d, d);
                        }
                        if (dw != null) dw[(long)t * k + j] += TensorPrimitives.Dot(g, new ReadOnlySpan<T>(ov + slot * h, h));
                    }
                }
            });
        }
    }
}
