using System.Numerics;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Precision;

namespace SharpSeek.Training.Ops;

/// <summary>
/// All routed experts of a layer as one op over the expert-sorted rows: expert e runs SwiGLU on its rows
/// [Offsets[e], Offsets[e+1]):  Y = (silu(X·W_gateᵀ) ⊙ X·W_upᵀ)·W_downᵀ. Each product is one GEMM per expert (a
/// "grouped GEMM"), operands rounded per the precision policy. The gate and up pre-activations are kept for the
/// backward pass; the SwiGLU output is recomputed from them rather than stored.
/// </summary>
public static unsafe class GroupedExpertsOp
{
    public static Node<T> GroupedExperts<T>(this Tape<T> tape, Node<T> sorted, RoutingPlan plan,
        IReadOnlyList<Node<T>> gate, IReadOnlyList<Node<T>> up, IReadOnlyList<Node<T>> down, GemmPrecision precision)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int experts = plan.Experts, h = sorted.Cols, m = sorted.Rows;
        if (gate.Count != experts || up.Count != experts || down.Count != experts) throw new ArgumentException($"grouped experts: need {experts} experts' weights");
        int f = gate[0].Rows;
        if (m != plan.Assignments) throw new ArgumentException($"grouped experts: {m} rows for {plan.Assignments} assignments");
        bool anyGrad = tape.AnyRequiresGrad(sorted) || gate.Any(g => g.RequiresGrad) || up.Any(u => u.RequiresGrad) || down.Any(d => d.RequiresGrad);
        var y = tape.NewNode(m, h, anyGrad);
        T* g = tape.Rent((long)m * f), u = tape.Rent((long)m * f), a = tape.Rent((long)m * f);
        for (int e = 0; e < experts; e++)
        {
            int rows = plan.CountOf(e), o = plan.Offsets[e];
            if (rows == 0) continue;
            PrecisionGemm.Forward(tape, precision, sorted.Value + (long)o * h, rows, h, gate[e].Value, f, g + (long)o * f, accumulate: false);
            PrecisionGemm.Forward(tape, precision, sorted.Value + (long)o * h, rows, h, up[e].Value, f, u + (long)o * f, accumulate: false);
        }
        SwiGluOp.Forward(tape, g, u, a, (long)m * f);
        for (int e = 0; e < experts; e++)
        {
            int rows = plan.CountOf(e), o = plan.Offsets[e];
            if (rows == 0) continue;
            PrecisionGemm.Forward(tape, precision, a + (long)o * f, rows, f, down[e].Value, h, y.Value + (long)o * h, accumulate: false);
        }
        tape.Return(a);
        if (y.RequiresGrad) tape.Record(new Step<T>(tape, sorted, y, plan, gate, up, down, g, u, f, precision), y);
        else { tape.Return(g); tape.Return(u); }
        return y;
    }

    private sealed class Step<T>(Tape<T> tape, Node<T> x, Node<T> y, RoutingPlan plan, IReadOnlyList<Node<T>> gate, IReadOnlyList<Node<T>> up,
        IReadOnlyList<Node<T>> down, T* g, T* u, int f, GemmPrecision precision) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            int h = x.Cols, m = x.Rows;
            long mf = (long)m * f;
            T* a = tape.Rent(mf), da = tape.RentZeroed(mf), dg = tape.RentZeroed(mf), du = tape.RentZeroed(mf);
            T* dy = y.Grad;
            T* dx = x.RequiresGrad ? x.Grad : null;
            SwiGluOp.Forward(tape, g, u, a, mf);
            for (int e = 0; e < plan.Experts; e++)
            {
                int rows = plan.CountOf(e), o = plan.Offsets[e];
                if (rows == 0) continue;
                if (down[e].RequiresGrad) PrecisionGemm.BackwardWeight(tape, precision, dy + (long)o * h, rows, h, a + (long)o * f, f, down[e].Grad);
                PrecisionGemm.BackwardInput(tape, precision, dy + (long)o * h, rows, h, down[e].Value, f, da + (long)o * f);
            }
            SwiGluOp.Backward(tape, g, u, da, dg, du, mf);
            for (int e = 0; e < plan.Experts; e++)
            {
                int rows = plan.CountOf(e), o = plan.Offsets[e];
                if (rows == 0) continue;
                T* xe = x.Value + (long)o * h;
                if (gate[e].RequiresGrad) PrecisionGemm.BackwardWeight(tape, precision, dg + (long)o * f, rows, f, xe, h, gate[e].Grad);
                if (up[e].RequiresGrad) PrecisionGemm.BackwardWeight(tape, precision, du + (long)o * f, rows, f, xe, h, up[e].Grad);
                if (dx != null)
                {
                    PrecisionGemm.BackwardInput(tape, precision, dg + (long)o * f, rows, f, gate[e].Value, h, dx + (long)o * h);
                    PrecisionGemm.BackwardInput(tape, precision, du + (long)o * f, rows, f, up[e].Value, h, dx + (long)o * h);
                }
            }
            tape.Return(du); tape.Return(dg); tape.Return(da); tape.Return(a);
            tape.Return(u); tape.Return(g);
        }
    }
}
