using SharpSeek.Tensors;

namespace SharpSeek.Formats.Gguf;

/// <summary>
/// A GGUF file (versions 2 and 3, little-endian) opened for reading. The header, metadata and tensor table are parsed
/// and validated at <see cref="Open"/>; tensor data is never copied: <see cref="GetTensor"/> returns views into the
/// file's bytes whose <see cref="Tensor.KeepAlive"/> is <see cref="Contents"/>.
/// </summary>
/// <remarks>
/// Disposing the file releases the mapping immediately; tensors obtained from it must not be used afterwards.
/// Tensors whose ggml type this codebase cannot hold are still listed (with <see cref="GgufTensorInfo.DType"/> null)
/// and only fail when fetched, so inspecting a file never depends on supporting every type in it.
/// </remarks>
public sealed unsafe class GgufFile : ITensorSource, IDisposable
{
    public const uint DefaultAlignment = 32;
    public const string AlignmentKey = "general.alignment";
    /// <summary>ggml's limit on tensor rank.</summary>
    public const int MaxDimensions = 4;
    /// <summary>Arrays of arrays deeper than this are refused so a hostile file cannot exhaust the stack.</summary>
    public const int MaxArrayNesting = 8;

    /// <summary>
    /// Largest metadata array accepted, in encoded bytes. Real files stay far below it (DeepSeek-V3's 129K-token
    /// vocabulary is a few MB); the limit keeps a corrupt count inside a multi-GB file from reading tensor data as metadata.
    /// </summary>
    public const long MaxMetadataArrayBytes = 1L << 30;
    private const int GrowthStartCapacity = 1 << 16;

    private static ReadOnlySpan<byte> Magic => "GGUF"u8;

    // Smallest possible encodings, used to reject absurd counts before anything proportional to them is allocated:
    // a metadata entry is a key length (8) + type (4) + at least a 1-byte value; a tensor info is a name length (8)
    // + n_dims (4) + type (4) + offset (8).
    private const int MinMetadataEntryBytes = 13;
    private const int MinTensorInfoBytes = 24;

    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;
    private readonly string[] _tensorNames;

    public string Path => Contents.Path;
    public FileContents Contents { get; }
    public uint Version { get; }
    public uint Alignment { get; }
    /// <summary>Absolute file offset where the data section starts.</summary>
    public long DataOffset { get; }
    public GgufMetadata Metadata { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public IReadOnlyList<string> TensorNames => _tensorNames;

    private GgufFile(FileContents contents, uint version, uint alignment, long dataOffset, GgufMetadata metadata, List<GgufTensorInfo> tensors)
    {
        Contents = contents;
        Version = version;
        Alignment = alignment;
        DataOffset = dataOffset;
        Metadata = metadata;
        Tensors = tensors;
        _tensorNames = tensors.Select(t => t.Name).ToArray();
        _tensorsByName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and validates a GGUF file; throws <see cref="InvalidModelFileException"/> for anything malformed.</summary>
    public static GgufFile Open(string path, FileLoadMode mode = FileLoadMode.MemoryMapped) => FileContents.OpenAndParse(path, mode, Parse);

    /// <summary>Parses already-opened contents; on success the returned file owns <paramref name="contents"/>.</summary>
    public static GgufFile Parse(FileContents contents)
    {
        var c = new ByteCursor(contents);

        if (c.Remaining < 4) throw c.Error($"not a GGUF file: only {c.Remaining} bytes long");
        var magic = c.Take(4, "magic");
        if (!magic.SequenceEqual(Magic))
            throw c.Error($"not a GGUF file: starts with {Convert.ToHexString(magic)} instead of the magic 'GGUF' (47475546)");

        uint version = c.ReadU32("version");
        if (version != 2 && version != 3)
        {
            uint swapped = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(version);
            throw c.Error(version switch
            {
                1 => "GGUF version 1 is not supported (its 32-bit counts predate the current layout); only versions 2 and 3 are",
                _ when swapped is 2 or 3 => "big-endian GGUF files are not supported",
                _ => $"unsupported GGUF version {version}; only versions 2 and 3 are supported",
            });
        }

        ulong tensorCount = c.ReadU64("tensor count");
        ulong kvCount = c.ReadU64("metadata count");
        ulong remaining = (ulong)c.Remaining;
        if (kvCount > remaining / MinMetadataEntryBytes)
            throw c.Error($"metadata count {kvCount} is impossible: the {remaining} bytes after the header hold at most {remaining / MinMetadataEntryBytes} entries");
        if (tensorCount > remaining / MinTensorInfoBytes || kvCount * MinMetadataEntryBytes + tensorCount * MinTensorInfoBytes > remaining)
            throw c.Error($"tensor count {tensorCount} is impossible: the {remaining} bytes after the header cannot hold {tensorCount} tensor infos and {kvCount} metadata entries");

        // Capacities are capped: the counts are only plausible, not yet proven, until every entry has been read.
        var entries = new List<KeyValuePair<string, GgufValue>>((int)Math.Min(kvCount, 4096));
        var byKey = new Dictionary<string, GgufValue>((int)Math.Min(kvCount, 4096), StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            long at = c.Position;
            string key = c.ReadString($"key of metadata entry {i}", strict: true);
            uint type = c.ReadU32($"type of metadata '{key}'");
            var value = ReadValue(c, type, $"metadata '{key}'", depth: 0);
            if (!byKey.TryAdd(key, value))
                throw c.Error($"metadata key '{key}' appears twice (second time at byte {at})");
            entries.Add(new(key, value));
        }
        var metadata = new GgufMetadata(contents.Path, entries, byKey);

        uint alignment = DefaultAlignment;
        if (byKey.TryGetValue(AlignmentKey, out var alignValue))
        {
            if (alignValue.Type != GgufValueType.UInt32)
                throw c.Error($"'{AlignmentKey}' is {alignValue.Describe()}, expected UInt32");
            alignment = (uint)alignValue.Value;
            if (alignment == 0 || (alignment & (alignment - 1)) != 0)
                throw c.Error($"'{AlignmentKey}' is {alignment}, which is not a power of two");
        }

        var tensors = new List<GgufTensorInfo>((int)Math.Min(tensorCount, 4096));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            var info = ReadTensorInfo(c, i, alignment);
            if (!names.Add(info.Name)) throw c.Error($"tensor '{info.Name}' appears twice in the tensor table");
            tensors.Add(info);
        }

        // The data section starts at the next multiple of the alignment after the tensor table.
        ulong headerEnd = (ulong)c.Position;
        ulong dataOffset = (headerEnd + alignment - 1) / alignment * alignment;
        long dataLength = dataOffset >= (ulong)contents.Length ? 0 : contents.Length - (long)dataOffset;
        ValidateDataRanges(c, tensors, dataLength, (long)dataOffset);

        return new GgufFile(contents, version, alignment, (long)Math.Min(dataOffset, (ulong)contents.Length), metadata, tensors);
    }

    private static GgufValue ReadValue(ByteCursor c, uint type, string what, int depth)
    {
        switch ((GgufValueType)type)
        {
            case GgufValueType.UInt8: return GgufValue.UInt8(c.ReadU8(what));
            case GgufValueType.Int8: return GgufValue.Int8((sbyte)c.ReadU8(what));
            case GgufValueType.UInt16: return GgufValue.UInt16(c.ReadU16(what));
            case GgufValueType.Int16: return GgufValue.Int16((short)c.ReadU16(what));
            case GgufValueType.UInt32: return GgufValue.UInt32(c.ReadU32(what));
            case GgufValueType.Int32: return GgufValue.Int32((int)c.ReadU32(what));
            case GgufValueType.Float32: return GgufValue.Float32(BitConverter.UInt32BitsToSingle(c.ReadU32(what)));
            case GgufValueType.Bool: return GgufValue.Bool(ReadBool(c, what));
            case GgufValueType.String: return GgufValue.String(c.ReadString(what, strict: false));
            case GgufValueType.UInt64: return GgufValue.UInt64(c.ReadU64(what));
            case GgufValueType.Int64: return GgufValue.Int64((long)c.ReadU64(what));
            case GgufValueType.Float64: return GgufValue.Float64(BitConverter.UInt64BitsToDouble(c.ReadU64(what)));
            case GgufValueType.Array: return GgufValue.Array(ReadArray(c, what, depth));
            default: throw c.Error($"{what} has unknown value type {type} at byte {c.Position - 4} (valid types are 0..12)");
        }
    }

    private static bool ReadBool(ByteCursor c, string what)
    {
        byte b = c.ReadU8(what);
        return b switch
        {
            0 => false,
            1 => true,
            _ => throw c.Error($"{what} is a bool stored as {b} at byte {c.Position - 1}; only 0 and 1 are valid"),
        };
    }

    private static GgufArray ReadArray(ByteCursor c, string what, int depth)
    {
        if (depth >= MaxArrayNesting) throw c.Error($"{what} nests arrays more than {MaxArrayNesting} deep");
        uint elementType = c.ReadU32($"element type of {what}");
        ulong count = c.ReadU64($"element count of {what}");
        int minElementBytes = (GgufValueType)elementType switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
            GgufValueType.String => 8, // the length prefix
            GgufValueType.Array => 12, // element type + count
            _ => throw c.Error($"{what} is an array of unknown value type {elementType} (valid types are 0..12)"),
        };
        ulong remaining = (ulong)c.Remaining;
        if (count > remaining / (ulong)minElementBytes)
            throw c.Error($"{what} claims {count} {(GgufValueType)elementType} elements (at least {minElementBytes} bytes each) but only {remaining} bytes remain");
        if (count * (ulong)minElementBytes > MaxMetadataArrayBytes)
            throw c.Error($"{what} claims {count} {(GgufValueType)elementType} elements, over the {MaxMetadataArrayBytes >> 20} MiB limit for one metadata array");
        int n = (int)count;
        string items = $"elements of {what}";
        switch ((GgufValueType)elementType)
        {
            case GgufValueType.UInt8: return GgufArray.Of(c.ReadArray<byte>(n, items));
            case GgufValueType.Int8: return GgufArray.Of(c.ReadArray<sbyte>(n, items));
            case GgufValueType.UInt16: return GgufArray.Of(c.ReadArray<ushort>(n, items));
            case GgufValueType.Int16: return GgufArray.Of(c.ReadArray<short>(n, items));
            case GgufValueType.UInt32: return GgufArray.Of(c.ReadArray<uint>(n, items));
            case GgufValueType.Int32: return GgufArray.Of(c.ReadArray<int>(n, items));
            case GgufValueType.Float32: return GgufArray.Of(c.ReadArray<float>(n, items));
            case GgufValueType.UInt64: return GgufArray.Of(c.ReadArray<ulong>(n, items));
            case GgufValueType.Int64: return GgufArray.Of(c.ReadArray<long>(n, items));
            case GgufValueType.Float64: return GgufArray.Of(c.ReadArray<double>(n, items));
            case GgufValueType.Bool:
            {
                var result = new bool[n];
                var raw = c.Take(n, items);
                for (int i = 0; i < n; i++)
                {
                    result[i] = raw[i] switch
                    {
                        0 => false,
                        1 => true,
                        _ => throw c.Error($"element {i} of {what} is a bool stored as {raw[i]}; only 0 and 1 are valid"),
                    };
                }
                return GgufArray.Of(result);
            }
            case GgufValueType.String:
            {
                // Variable-size elements: grow as they are actually parsed, so a count that the bytes cannot back
                // fails at the first missing element instead of after a huge up-front allocation.
                var result = new List<string>(Math.Min(n, GrowthStartCapacity));
                for (int i = 0; i < n; i++) result.Add(c.ReadString(what, strict: false, element: i));
                return GgufArray.Of(result.ToArray());
            }
            default:
            {
                var result = new List<GgufArray>(Math.Min(n, GrowthStartCapacity));
                for (int i = 0; i < n; i++) result.Add(ReadArray(c, $"element {i} of {what}", depth + 1));
                return GgufArray.Of(result.ToArray());
            }
        }
    }

    private static GgufTensorInfo ReadTensorInfo(ByteCursor c, ulong index, uint alignment)
    {
        string name = c.ReadString($"name of tensor {index}", strict: true);
        uint nDims = c.ReadU32($"n_dims of tensor '{name}'");
        if (nDims > MaxDimensions)
            throw c.Error($"tensor '{name}' has {nDims} dimensions; GGUF allows at most {MaxDimensions}");
        var dims = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++)
        {
            ulong dim = c.ReadU64($"dimension {d} of tensor '{name}'");
            if (dim > int.MaxValue)
                throw c.Error($"dimension {d} of tensor '{name}' is {dim}, larger than the supported maximum {int.MaxValue}");
            dims[d] = (long)dim;
            if (elements != 0 && dims[d] != 0 && dims[d] > long.MaxValue / elements)
                throw c.Error($"tensor '{name}' dimensions ({string.Join(", ", dims.Take(d + 1))}...) overflow a 64-bit element count");
            elements *= dims[d];
        }
        uint ggmlType = c.ReadU32($"type of tensor '{name}'");
        ulong offset = c.ReadU64($"data offset of tensor '{name}'");
        if (offset > long.MaxValue)
            throw c.Error($"tensor '{name}' has data offset {offset}, beyond any file");
        if (offset % alignment != 0)
            throw c.Error($"tensor '{name}' has data offset {offset}, which is not a multiple of the alignment {alignment}");

        DType? dtype = null;
        long? bytes = null;
        if (GgmlTypes.TryToDType(ggmlType, out var dt))
        {
            dtype = dt;
            int blockElements = DTypeInfo.BlockElements(dt), blockBytes = DTypeInfo.BlockBytes(dt);
            long rowLength = nDims == 0 ? 1 : dims[0];
            if (rowLength % blockElements != 0)
                throw c.Error($"tensor '{name}' is {GgmlTypes.Name(ggmlType)} but its row length {rowLength} is not a multiple of the block size {blockElements}");
            long blocks = elements / blockElements;
            if (blocks > long.MaxValue / blockBytes)
                throw c.Error($"tensor '{name}' ({elements} elements of {GgmlTypes.Name(ggmlType)}) is too large to address");
            bytes = blocks * blockBytes;
        }
        return new GgufTensorInfo(name, dims, ggmlType, dtype, (long)offset, elements, bytes);
    }

    private static void ValidateDataRanges(ByteCursor c, List<GgufTensorInfo> tensors, long dataLength, long dataOffset)
    {
        foreach (var t in tensors)
        {
            long size = t.ByteLength ?? 0;
            if (t.Offset > dataLength || size > dataLength - t.Offset)
                throw c.Error($"tensor '{t.Name}' data [{t.Offset}, {t.Offset + size}) lies outside the data section " +
                              $"({dataLength} bytes starting at byte {dataOffset}); the file is truncated or the offset is corrupt");
        }
        // Two tensors sharing bytes means a corrupt table (writers never alias tensors).
        var sized = tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < sized.Count; i++)
        {
            var prev = sized[i - 1];
            if (sized[i].Offset < prev.Offset + prev.ByteLength!.Value)
                throw c.Error($"tensors '{prev.Name}' [{prev.Offset}, {prev.Offset + prev.ByteLength}) and '{sized[i].Name}' [{sized[i].Offset}, ...) overlap");
        }
    }

    public bool ContainsTensor(string name) => _tensorsByName.ContainsKey(name);

    public GgufTensorInfo GetTensorInfo(string name)
        => _tensorsByName.TryGetValue(name, out var info) ? info : throw new InvalidModelFileException(Path, $"no tensor named '{name}'");

    public bool TryGetTensorInfo(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out GgufTensorInfo? info)
        => _tensorsByName.TryGetValue(name, out info);

    public Tensor GetTensor(string name) => GetTensor(GetTensorInfo(name));

    /// <summary>A zero-copy view of the tensor's data with the row-major shape (GGUF dims reversed).</summary>
    public Tensor GetTensor(GgufTensorInfo info)
    {
        if (info.DType is not DType dtype)
            throw new InvalidModelFileException(Path, $"unsupported ggml type {info.GgmlType} ({info.GgmlTypeName}) for tensor '{info.Name}'");
        byte* data = Contents.Length == 0 ? null : Contents.Pointer + DataOffset + info.Offset;
        return Tensor.FromPointer(dtype, info.Shape, data, info.ByteLength!.Value, Contents);
    }

    public string FileOf(string name) => ContainsTensor(name) ? Path : throw new InvalidModelFileException(Path, $"no tensor named '{name}'");

    public void Dispose() => Contents.Dispose();
}
