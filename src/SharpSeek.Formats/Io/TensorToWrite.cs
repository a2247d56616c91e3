using SharpSeek.Tensors;

namespace SharpSeek.Formats;

/// <summary>
/// A tensor queued for a writer. Either an existing tensor, or a factory called only when the writer reaches it, so
/// a converter can produce (say) one quantised tensor at a time and the whole model never sits in memory at once.
/// </summary>
internal sealed class TensorToWrite
{
    private readonly Tensor? _tensor;
    private readonly Func<Tensor>? _factory;

    public string Name { get; }
    public DType DType { get; }
    public int[] Shape { get; }
    public long ByteLength { get; }

    public TensorToWrite(string name, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!tensor.IsContiguous)
            throw new ArgumentException($"tensor '{name}' is not contiguous; add a contiguous copy instead", nameof(tensor));
        Name = CheckName(name);
        _tensor = tensor;
        DType = tensor.DType;
        Shape = (int[])tensor.Shape.Clone();
        ByteLength = TensorByteWriter.StoredBytes(DType, Shape);
    }

    public TensorToWrite(string name, DType dtype, int[] shape, Func<Tensor> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(shape);
        Name = CheckName(name);
        DType = dtype;
        Shape = (int[])shape.Clone();
        if (DTypeInfo.IsBlockQuantized(dtype) && Shape.Length > 0 && Shape[^1] % DTypeInfo.BlockElements(dtype) != 0)
            throw new ArgumentException($"tensor '{name}': {dtype} rows must hold whole blocks of {DTypeInfo.BlockElements(dtype)}; row length {Shape[^1]} does not");
        ByteLength = TensorByteWriter.StoredBytes(dtype, Shape);
        _factory = factory;
    }

    private static string CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return name;
    }

    /// <summary>Writes the tensor's bytes; a factory-made tensor must match the declared dtype and shape and is disposed afterwards.</summary>
    public void WriteData(Stream stream)
    {
        if (_tensor != null)
        {
            TensorByteWriter.Write(stream, _tensor, Name);
            return;
        }
        using var made = _factory!() ?? throw new InvalidOperationException($"the source of tensor '{Name}' returned null");
        if (made.DType != DType || !made.Shape.AsSpan().SequenceEqual(Shape))
            throw new InvalidOperationException(
                $"the source of tensor '{Name}' produced {made.DType} [{string.Join(", ", made.Shape)}] but {DType} [{string.Join(", ", Shape)}] was declared");
        TensorByteWriter.Write(stream, made, Name);
    }
}
