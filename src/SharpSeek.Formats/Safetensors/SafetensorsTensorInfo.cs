using SharpSeek.Tensors;

namespace SharpSeek.Formats.Safetensors;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed class SafetensorsTensorInfo
{
    public string Name { get; }
    /// <summary>The dtype string as written in the file (e.g. "BF16", "F8_E4M3").</summary>
    public string DTypeName { get; }
    /// <summary>The dtype the tensor loads as, or null when this codebase cannot hold <see cref="DTypeName"/>.</summary>
    public DType? DType { get; }
    public int[] Shape { get; }
    /// <summary>Start of the data, relative to the end of the header.</summary>
    public long DataBegin { get; }
    /// <summary>End (exclusive) of the data, relative to the end of the header.</summary>
    public long DataEnd { get; }
    public long ByteLength => DataEnd - DataBegin;
    public long ElementCount { get; }

    internal SafetensorsTensorInfo(string name, string dtypeName, DType? dtype, int[] shape, long elementCount, long begin, long end)
    {
        Name = name;
        DTypeName = dtypeName;
        DType = dtype;
        Shape = shape;
        ElementCount = elementCount;
        DataBegin = begin;
        DataEnd = end;
    }

    public override string ToString() => $"{Name}: {DTypeName} [{string.Join(", ", Shape)}] @ [{DataBegin}, {DataEnd})";
}
