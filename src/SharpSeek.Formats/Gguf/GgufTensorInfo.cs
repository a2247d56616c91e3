using SharpSeek.Tensors;

namespace SharpSeek.Formats.Gguf;

/// <summary>One tensor's entry in a GGUF file's tensor-info table.</summary>
public sealed class GgufTensorInfo
{
    public string Name { get; }

    /// <summary>Dimensions as stored in the file: fastest-varying first (a linear weight [out, in] is stored as (in, out)).</summary>
    public long[] Dimensions { get; }

    /// <summary>Our row-major shape: <see cref="Dimensions"/> reversed.</summary>
    public int[] Shape { get; }

    /// <summary>The ggml type id as stored.</summary>
    public uint GgmlType { get; }

    public string GgmlTypeName => GgmlTypes.Name(GgmlType);

    /// <summary>The dtype the tensor loads as, or null when its ggml type is not one this codebase holds.</summary>
    public DType? DType { get; }

    /// <summary>Offset of the tensor's data from the start of the data section.</summary>
    public long Offset { get; }

    /// <summary>Bytes of data, or null when the ggml type is unsupported (its size is then not computed).</summary>
    public long? ByteLength { get; }

    public long ElementCount { get; }

    internal GgufTensorInfo(string name, long[] dimensions, uint ggmlType, DType? dtype, long offset, long elementCount, long? byteLength)
    {
        Name = name;
        Dimensions = dimensions;
        Shape = dimensions.Reverse().Select(d => (int)d).ToArray();
        GgmlType = ggmlType;
        DType = dtype;
        Offset = offset;
        ElementCount = elementCount;
        ByteLength = byteLength;
    }

    public override string ToString() => $"{Name}: {GgmlTypeName} [{string.Join(", ", Shape)}] @ {Offset}";
}
