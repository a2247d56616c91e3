using SharpSeek.Tensors;
using SharpSeek.Tensors.Quantization;

namespace SharpSeek.Checkpoints;

/// <summary>
/// The float values of one logical tensor, produced a range of rows at a time (a row is the last dimension; leading
/// dimensions are flattened), so converting or generating a multi-GB tensor never holds it as floats all at once.
/// </summary>
public abstract class TensorValues
{
    protected TensorValues(int[] shape)
    {
        if (shape.Length == 0) throw new ArgumentException("tensor values need at least one dimension");
        Shape = (int[])shape.Clone();
        Rows = Tensor.ShapeElements(Shape.AsSpan(0, Shape.Length - 1));
    }

    public int[] Shape { get; }
    public int Cols => Shape[^1];
    public long Rows { get; }
    public long ElementCount => Rows * Cols;

    /// <summary>Writes rows [<paramref name="firstRow"/>, +<paramref name="count"/>) into <paramref name="destination"/> (count·Cols floats).</summary>
    public void ReadRows(long firstRow, int count, Span<float> destination)
    {
        if (firstRow < 0 || count < 0 || firstRow + count > Rows)
            throw new ArgumentOutOfRangeException(nameof(firstRow), $"rows [{firstRow}, {firstRow + count}) are outside the {Rows} rows of [{string.Join(", ", Shape)}]");
        if (destination.Length != (long)count * Cols)
            throw new ArgumentException($"{count} rows of {Cols} need {(long)count * Cols} floats, got {destination.Length}", nameof(destination));
        if (count > 0) Read(firstRow, count, destination);
    }

    protected abstract void Read(long firstRow, int count, Span<float> destination);

    /// <summary>All values as one array (small tensors only).</summary>
    public float[] ReadAll()
    {
        if (ElementCount > Array.MaxLength) throw new InvalidOperationException($"tensor [{string.Join(", ", Shape)}] is too large to read into one array");
        var all = new float[ElementCount];
        ReadRows(0, checked((int)Rows), all);
        return all;
    }

    /// <summary>The values of a stored tensor of any dtype (FP8 weights apply their attached block scales).</summary>
    public static TensorValues Of(Tensor tensor) => new StoredTensorValues(tensor);

    public static TensorValues FromArray(float[] values, params int[] shape) => new ArrayTensorValues(values, shape);
}

/// <summary>Decodes a stored tensor row by row.</summary>
public sealed class StoredTensorValues(Tensor tensor) : TensorValues(tensor.Shape)
{
    public Tensor Tensor { get; } = tensor;

    protected override void Read(long firstRow, int count, Span<float> destination)
    {
        int cols = Cols;
        for (int i = 0; i < count; i++) BlockQuantizer.DequantizeRow(Tensor, firstRow + i, destination.Slice(i * cols, cols));
    }
}

/// <summary>Values already in memory.</summary>
public sealed class ArrayTensorValues : TensorValues
{
    private readonly float[] _values;

    public ArrayTensorValues(float[] values, int[] shape) : base(shape)
    {
        if (values.LongLength != ElementCount)
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] holds {ElementCount} values, got {values.Length}");
        _values = values;
    }

    protected override void Read(long firstRow, int count, Span<float> destination)
        => _values.AsSpan(checked((int)(firstRow * Cols)), count * Cols).CopyTo(destination);
}

/// <summary>Equal-shaped matrices stacked along a new first dimension: [n, rows, cols] (GGUF's ffn_*_exps).</summary>
public sealed class StackedTensorValues : TensorValues
{
    private readonly TensorValues[] _parts;
    private readonly long _partRows;

    public StackedTensorValues(IReadOnlyList<TensorValues> parts) : base(StackShape(parts))
    {
        _parts = parts.ToArray();
        _partRows = _parts[0].Rows;
    }

    private static int[] StackShape(IReadOnlyList<TensorValues> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("nothing to stack");
        var first = parts[0].Shape;
        foreach (var p in parts)
            if (!p.Shape.AsSpan().SequenceEqual(first))
                throw new ArgumentException($"stacked parts must share one shape: [{string.Join(", ", first)}] vs [{string.Join(", ", p.Shape)}]");
        return [parts.Count, .. first];
    }

    protected override void Read(long firstRow, int count, Span<float> destination)
    {
        int cols = Cols, done = 0;
        while (done < count)
        {
            long row = firstRow + done;
            int part = (int)(row / _partRows);
            long inPart = row % _partRows;
            int take = (int)Math.Min(count - done, _partRows - inPart);
            _parts[part].ReadRows(inPart, take, destination.Slice(done * cols, take * cols));
            done += take;
        }
    }
}

/// <summary>Item <paramref name="index"/> of a tensor stacked along its first dimension (one expert of ffn_*_exps).</summary>
public sealed class SlicedTensorValues(TensorValues stacked, int index) : TensorValues(stacked.Shape[1..])
{
    protected override void Read(long firstRow, int count, Span<float> destination)
        => stacked.ReadRows(index * Rows + firstRow, count, destination);
}

/// <summary>
/// Rows picked from <paramref name="source"/> into a new shape with the same row length: row i of this is row
/// <c>sourceRow[i]</c> of the source (a permutation, or a selection such as the value rows of MLA's fused up-projection).
/// </summary>
public sealed class SelectedRowsTensorValues : TensorValues
{
    private readonly TensorValues _source;
    private readonly long[] _sourceRow;

    public SelectedRowsTensorValues(TensorValues source, int[] shape, long[] sourceRow) : base(shape)
    {
        if (Cols != source.Cols) throw new ArgumentException($"rows of {source.Cols} cannot make a tensor with rows of {Cols}");
        if (sourceRow.LongLength != Rows) throw new ArgumentException($"[{string.Join(", ", shape)}] has {Rows} rows but {sourceRow.Length} were selected");
        foreach (long r in sourceRow)
            if ((ulong)r >= (ulong)source.Rows) throw new ArgumentOutOfRangeException(nameof(sourceRow), r, $"the source has {source.Rows} rows");
        _source = source;
        _sourceRow = sourceRow;
    }

    protected override void Read(long firstRow, int count, Span<float> destination)
    {
        int cols = Cols;
        for (int i = 0; i < count; i++) _source.ReadRows(_sourceRow[firstRow + i], 1, destination.Slice(i * cols, cols));
    }
}

/// <summary>Constant values (a selection bias a file does not store, which llama.cpp treats as zero).</summary>
public sealed class ConstantTensorValues(float value, params int[] shape) : TensorValues(shape)
{
    protected override void Read(long firstRow, int count, Span<float> destination) => destination.Fill(value);
}
