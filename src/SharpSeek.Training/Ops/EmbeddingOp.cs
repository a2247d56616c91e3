using System.Numerics;
using System.Numerics.Tensors;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Ops;

/// <summary>Token embedding lookup: y[i] = table[ids[i]]; the backward pass scatter-adds rows into the table's gradient.</summary>
public static unsafe class EmbeddingOp
{
    public static Node<T> Embedding<T>(this Tape<T> tape, Node<T> table, int[] ids) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int h = table.Cols, vocab = table.Rows;
        foreach (int id in ids)
            if ((uint)id >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(ids), id, $"token id outside the vocabulary [0, {vocab})");
        var y = tape.NewNode(ids.Length, h, tape.AnyRequiresGrad(table));
        T* tv = table.Value, yv = y.Value;
        ParallelRange.For(tape.Pool, ids.Length, 64, (s, e) =>
        {
            for (int i = s; i < e; i++) new ReadOnlySpan<T>(tv + (long)ids[i] * h, h).CopyTo(new Span<T>(yv + (long)i * h, h));
        });
        if (y.RequiresGrad) tape.Record(new Step<T>(tape, table, ids, y), y);
        return y;
    }

    private sealed class Step<T>(Tape<T> tape, Node<T> table, int[] ids, Node<T> y) : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            int h = table.Cols;
            T* dt = table.Grad, dy = y.Grad;
            // Threads own column ranges, so two tokens with the same id never race and the sum order is fixed.
            const int width = 64;
            int slices = (h + width - 1) / width;
            ParallelRange.For(tape.Pool, slices, 1, (s, e) =>
            {
                for (int slice = s; slice < e; slice++)
                {
                    int c0 = slice * width, w = Math.Min(width, h - c0);
                    for (int i = 0; i < ids.Length; i++)
                    {
                        var dst = new Span<T>(dt + (long)ids[i] * h + c0, w);
                        TensorPrimitives.Add(dst, new ReadOnlySpan<T>(dy + (long)i * h + c0, w), dst);
                    }
                }
            });
        }
    }
}
