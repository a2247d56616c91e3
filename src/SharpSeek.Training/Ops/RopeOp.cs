using System.Numerics;
using SharpSeek.Training.Autodiff;

namespace SharpSeek.Training.Ops;

/// <summary>
/// Interleaved RoPE on a slice of each head: for row i (position i mod sequenceLength, each packed sequence starting at
/// 0) and head h, the pairs (x[2j], x[2j+1]) of columns [h·headStride + offset, … + dims) rotate by that position's
/// angle. Other columns pass through. The rotation is linear, so the backward pass applies its transpose to dy.
/// </summary>
public static unsafe class RopeOp
{
    public static Node<T> Rope<T>(this Tape<T> tape, Node<T> x, RotaryTable<T> table, int sequenceLength, int heads, int headStride, int offset)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (x.Rows % sequenceLength != 0) throw new ArgumentException($"RoPE: {x.Rows} rows are not whole sequences of {sequenceLength}");
        if (sequenceLength > table.MaxPositions) throw new ArgumentException($"RoPE: sequences of {sequenceLength} exceed the table's {table.MaxPositions} positions");
        if ((heads - 1) * headStride + offset + table.Dims > x.Cols) throw new ArgumentException($"RoPE: heads do not fit in {x.Cols} columns");
        var y = tape.NewNode(x.Rows, x.Cols, tape.AnyRequiresGrad(x));
        x.Values.CopyTo(y.Values);
        Rotate(tape, y.Value, y.Rows, y.Cols, table, sequenceLength, heads, headStride, offset, transpose: false);
        if (y.RequiresGrad) tape.Record(new Step<T>(tape, x, y, table, sequenceLength, heads, headStride, offset), y);
        return y;
    }

    /// <summary>Rotates in place (applying the transpose when <paramref name="transpose"/>, for gradients).</summary>
    internal static void Rotate<T>(Tape<T> tape, T* data, int rows, int cols, RotaryTable<T> table, int sequenceLength, int heads, int headStride, int offset, bool transpose)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int half = table.Dims / 2;
        T[] cos = table.Cos, sin = table.Sin;
        ParallelRange.For(tape.Pool, rows, 64, (s, e) =>
        {
            for (int i = s; i < e; i++)
            {
                int pos = i % sequenceLength;
                for (int h = 0; h < heads; h++)
                {
                    T* v = data + (long)i * cols + h * headStride + offset;
                    for (int j = 0; j < half; j++)
                    {
                        T c = cos[pos * half + j], sn = transpose ? -sin[pos * half + j] : sin[pos * half + j];
                        T a = v[2 * j], b = v[2 * j + 1];
                        v[2 * j] = a * c - b * sn;
                        v[2 * j + 1] = a * sn + b * c;
                    }
                }
            }
        });
    }

    private sealed class Step<T>(Tape<T> tape, Node<T> x, Node<T> y, RotaryTable<T> table, int sequenceLength, int heads, int headStride, int offset)
        : TapeStep where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        public override void Backward()
        {
            // dx += Rᵀ·dy: rotate a copy of dy backwards, then accumulate.
            T* t = tape.Rent(y.Length);
            y.Gradients.CopyTo(new Span<T>(t, checked((int)y.Length)));
            Rotate(tape, t, y.Rows, y.Cols, table, sequenceLength, heads, headStride, offset, transpose: true);
            ParallelElementwise.AddInto(tape.Pool, x.Grad, t, y.Length);
            tape.Return(t);
        }
    }
}
