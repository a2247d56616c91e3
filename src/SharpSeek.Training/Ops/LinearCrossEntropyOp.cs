using System.Numerics;
using System.Numerics.Tensors;
using SharpSeek.Training.Autodiff;
using SharpSeek.Training.Precision;

namespace SharpSeek.Training.Ops;

/// <summary>
/// The output head and the cross-entropy loss fused: mean over labelled rows of −log softmax(x·Wᵀ)[target]
/// (target −1 = no label). The [rows, vocab] logits are never stored whole: they are made 256 rows at a time, turned
/// into their gradient in place (softmax − one-hot), and both input and weight gradients for a unit upstream gradient
/// are accumulated immediately (<see cref="HeadChunks"/>). The backward pass then only scales them by the loss's actual gradient. This keeps
/// the largest activation of a small-vocabulary model out of memory and costs no recomputation.
/// </summary>
public static unsafe class LinearCrossEntropyOp
{
    public static Node<T> LinearCrossEntropy<T>(this Tape<T> tape, Node<T> x, Node<T> head, int[] targets, GemmPrecision precision)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int n = x.Rows, h = x.Cols, vocab = head.Rows;
        if (head.Cols != h) throw new ArgumentException($"cross-entropy: head {head} does not match hidden states {x}");
        if (targets.Length != n) throw new ArgumentException($"cross-entropy: {targets.Length} targets for {n} rows");
        int labelled = 0;
        foreach (int t in targets)
        {
            if (t >= vocab || t < -1) throw new ArgumentOutOfRangeException(nameof(targets), t, $"target outside [0, {vocab}) (or −1 for none)");
            if (t >= 0) labelled++;
        }
        var loss = tape.NewNode(1, 1, tape.AnyRequiresGrad(x, head) && labelled > 0);
        bool wantX = loss.RequiresGrad && x.RequiresGrad, wantW = loss.RequiresGrad && head.RequiresGrad;
        T* dxUnit = wantX ? tape.RentZeroed((long)n * h) : null;
        T* dwUnit = wantW ? tape.RentZeroed((long)vocab * h) : null;
        var rowLoss = new double[n];
        T invLabelled = labelled > 0 ? T.One / T.CreateTruncating(labelled) : T.Zero;
        bool grads = loss.RequiresGrad;

        HeadChunks.Run(tape, x, head, precision, (row, r) =>
        {
            int target = targets[r];
            if (target < 0)
            {
                if (grads) row.Clear();
                return;
            }
            T max = TensorPrimitives.Max<T>(row);
            T targetLogit = row[target];
            TensorPrimitives.Subtract(row, max, row);
            TensorPrimitives.Exp<T>(row, row);
            T sum = TensorPrimitives.Sum<T>(row);
            rowLoss[r] = double.CreateTruncating(max + T.Log(sum) - targetLogit);
            if (grads)
            {
                // d loss / d logits = (softmax − onehot) / labelled
                TensorPrimitives.Multiply(row, invLabelled / sum, row);
                row[target] -= invLabelled;
            }
        }, dxUnit, dwUnit);
        double total = 0;
        foreach (double l in rowLoss) total += l;
        loss.Value[0] = labelled > 0 ? T.CreateTruncating(total / labelled) : T.Zero;
        if (loss.RequiresGrad) tape.Record(new ScaledUnitGradientStep<T>(tape, x, head, loss, dxUnit, dwUnit), loss);
        return loss;
    }
}
