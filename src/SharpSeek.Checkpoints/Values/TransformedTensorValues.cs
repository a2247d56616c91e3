namespace SharpSeek.Checkpoints;

/// <summary>
/// Values computed from a whole (small) source tensor, materialised on first use: the source is read once into memory
/// and <paramref name="transform"/> maps it to this tensor's row-major values.
/// </summary>
public sealed class TransformedTensorValues(int[] shape, TensorValues source, Func<float[], float[]> transform) : TensorValues(shape)
{
    private float[]? _values;
    private readonly object _lock = new();

    protected override void Read(long firstRow, int count, Span<float> destination)
    {
        float[] values;
        lock (_lock)
        {
            if (_values is null)
            {
                _values = transform(source.ReadAll());
                if (_values.LongLength != ElementCount)
                    throw new InvalidOperationException($"transform produced {_values.Length} values for [{string.Join(", ", Shape)}] ({ElementCount})");
            }
            values = _values;
        }
        values.AsSpan(checked((int)(firstRow * Cols)), count * Cols).CopyTo(destination);
    }
}
