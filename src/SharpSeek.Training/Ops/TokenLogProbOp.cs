using System.Numerics;
using System.Numerics.Tensors;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Precision;

namespace SharpSeek.Training.Ops;

/// <summary>
/// What a per-token objective makes of the log-probabilities: the loss value, and for every row its derivative
/// ∂loss/∂log p(target) (0 for unlabelled rows). Policy-gradient losses (GRPO's clipped ratio and k3 KL) depend on the
/// model only through these log-probabilities, so this is all the backward pass needs from them.
/// </summary>
public readonly record struct TokenObjective(double Loss, double[] Coefficients);

/// <summary>
/// Log-probabilities of given next tokens under the output head, log softmax(x·Wᵀ)[target] per row (target −1 = no
/// label, reported as NaN), with an arbitrary differentiable function of them as the loss. The logits are made 256
/// rows at a time and never stored whole: a first pass computes the log-probabilities, <c>objective</c> turns them into
/// a loss and per-row coefficients c_i, and a second pass recomputes each chunk's logits to form
/// ∂loss/∂logits = c_i·(onehot − softmax), accumulated at once into unit input and weight gradients (as the fused
/// cross-entropy does). Recomputing the head GEMM is cheaper than keeping [rows, vocab] alive.
/// </summary>
public static unsafe class TokenLogProbOp
{
    /// <summary>Log-probabilities only (no gradients recorded; nothing kept).</summary>
    public static double[] TokenLogProbs<T>(this Tape<T> tape, Node<T> x, Node<T> head, int[] targets, GemmPrecision precision)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Validate(x, head, targets);
        var logProbs = new double[x.Rows];
        HeadChunks.Run(tape, x, head, precision, (row, r) =>
            logProbs[r] = targets[r] < 0 ? double.NaN : LogSoftmaxAt(row, targets[r], out _));
        return logProbs;
    }

    /// <summary>
    /// The scalar loss <paramref name="objective"/> computes from the log-probabilities, recorded so that backward
    /// sends Σ_i c_i·∂log p_i into <paramref name="x"/> and <paramref name="head"/>. <paramref name="logProbs"/>
    /// receives the log-probabilities the objective saw.
    /// </summary>
    public static Node<T> TokenLogProbLoss<T>(this Tape<T> tape, Node<T> x, Node<T> head, int[] targets, GemmPrecision precision,
        Func<double[], TokenObjective> objective, out double[] logProbs)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(objective);
        logProbs = tape.TokenLogProbs(x, head, targets, precision);
        var result = objective(logProbs);
        if (result.Coefficients is null || result.Coefficients.Length != x.Rows)
            throw new ArgumentException($"the objective must return one coefficient per row ({x.Rows})");
        var loss = tape.NewNode(1, 1, tape.AnyRequiresGrad(x, head));
        loss.Value[0] = T.CreateTruncating(result.Loss);
        if (!loss.RequiresGrad) return loss;

        bool wantX = x.RequiresGrad, wantW = head.RequiresGrad;
        T* dxUnit = wantX ? tape.RentZeroed((long)x.Rows * x.Cols) : null;
        T* dwUnit = wantW ? tape.RentZeroed((long)head.Rows * x.Cols) : null;
        var coefficients = result.Coefficients;
        HeadChunks.Run(tape, x, head, precision, (row, r) =>
        {
            int target = targets[r];
            double c = target < 0 ? 0 : coefficients[r];
            if (c == 0)
            {
                row.Clear();
                return;
            }
            // row ← softmax; ∂(c·log p_t)/∂logits = c·(onehot − softmax).
            LogSoftmaxAt(row, target, out T sum);
            T scale = T.CreateTruncating(-c);
            TensorPrimitives.Multiply(row, scale / sum, row);
            row[target] += T.CreateTruncating(c);
        }, dxUnit, dwUnit);
        tape.Record(new ScaledUnitGradientStep<T>(tape, x, head, loss, dxUnit, dwUnit), loss);
        return loss;
    }

    /// <summary>log softmax(row)[target]; leaves exp(row − max) in <paramref name="row"/> and its sum in <paramref name="sum"/>.</summary>
    private static double LogSoftmaxAt<T>(Span<T> row, int target, out T sum) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T max = TensorPrimitives.Max<T>(row);
        T targetLogit = row[target];
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp<T>(row, row);
        sum = TensorPrimitives.Sum<T>(row);
        return double.CreateTruncating(targetLogit - max - T.Log(sum));
    }

    private static void Validate<T>(Node<T> x, Node<T> head, int[] targets) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (head.Cols != x.Cols) throw new ArgumentException($"token log-probs: head {head} does not match hidden states {x}");
        if (targets.Length != x.Rows) throw new ArgumentException($"token log-probs: {targets.Length} targets for {x.Rows} rows");
        foreach (int t in targets)
            if (t >= head.Rows || t < -1) throw new ArgumentOutOfRangeException(nameof(targets), t, $"target outside [0, {head.Rows}) (or −1 for none)");
    }
}
