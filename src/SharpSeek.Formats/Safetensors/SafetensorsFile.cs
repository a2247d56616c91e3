using System.Buffers.Binary;
using System.Text.Json;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Safetensors;

/// <summary>
/// One safetensors file opened for reading: the JSON header is parsed and validated at <see cref="Open"/>, and
/// <see cref="GetTensor"/> returns zero-copy views whose <see cref="Tensor.KeepAlive"/> is <see cref="Contents"/>.
/// </summary>
/// <remarks>
/// Disposing releases the mapping at once; views must not be used afterwards. Tensors of dtypes we cannot hold are
/// listed (<see cref="SafetensorsTensorInfo.DType"/> null) and only fail when fetched.
/// </remarks>
public sealed unsafe class SafetensorsFile : ITensorSource, IDisposable
{
    /// <summary>Largest header accepted (the reference implementation's limit too); real headers are well under 1 MB.</summary>
    public const long MaxHeaderBytes = 100_000_000;
    public const string MetadataKey = "__metadata__";

    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;
    private readonly string[] _names;

    public string Path => Contents.Path;
    public FileContents Contents { get; }
    /// <summary>Absolute file offset of the data section (8 + header length).</summary>
    public long DataOffset { get; }
    /// <summary>The <c>__metadata__</c> string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Tensors in header order.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }
    public IReadOnlyList<string> TensorNames => _names;

    private SafetensorsFile(FileContents contents, long dataOffset, Dictionary<string, string> metadata, List<SafetensorsTensorInfo> tensors)
    {
        Contents = contents;
        DataOffset = dataOffset;
        Metadata = metadata;
        Tensors = tensors;
        _names = tensors.Select(t => t.Name).ToArray();
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public static SafetensorsFile Open(string path, FileLoadMode mode = FileLoadMode.MemoryMapped) => FileContents.OpenAndParse(path, mode, Parse);

    /// <summary>Parses already-opened contents; on success the returned file owns <paramref name="contents"/>.</summary>
    public static SafetensorsFile Parse(FileContents contents)
    {
        string path = contents.Path;
        InvalidModelFileException Error(string problem) => new(path, problem);

        if (contents.Length < 8)
            throw Error($"file is {contents.Length} bytes, too short for the 8-byte safetensors header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(contents.Slice(0, 8));
        if (headerLength > (ulong)(contents.Length - 8))
            throw Error($"header length {headerLength} is larger than the {contents.Length - 8} bytes that follow it (truncated file, or not safetensors)");
        if (headerLength > MaxHeaderBytes)
            throw Error($"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
        long dataOffset = 8 + (long)headerLength;
        long dataLength = contents.Length - dataOffset;

        // Copying the header is bounded by the checks above (it is at most the bytes actually in the file).
        byte[] headerBytes = contents.Slice(8, (int)headerLength).ToArray();
        using var doc = ParseJson(headerBytes, path);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var tensors = new List<SafetensorsTensorInfo>();
        try
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Error($"header is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, expected an object");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in root.EnumerateObject())
            {
                if (!seen.Add(prop.Name)) throw Error($"header lists '{prop.Name}' twice");
                if (prop.Name == MetadataKey)
                    ReadMetadata(prop.Value, metadata, Error);
                else
                    tensors.Add(ReadTensorEntry(prop.Name, prop.Value, dataLength, Error));
            }
        }
        catch (InvalidOperationException e)
        {
            // System.Text.Json reports text it cannot transcode (invalid UTF-8 inside a string) this way.
            throw Error($"header contains invalid text: {e.Message}");
        }

        var sorted = tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.DataBegin).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].DataBegin < sorted[i - 1].DataEnd)
                throw Error($"tensors '{sorted[i - 1].Name}' [{sorted[i - 1].DataBegin}, {sorted[i - 1].DataEnd}) and '{sorted[i].Name}' [{sorted[i].DataBegin}, {sorted[i].DataEnd}) overlap");

        return new SafetensorsFile(contents, dataOffset, metadata, tensors);
    }

    private static JsonDocument ParseJson(byte[] bytes, string path)
    {
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidModelFileException(path, $"header is not valid JSON: {e.Message}");
        }
    }

    private static void ReadMetadata(JsonElement e, Dictionary<string, string> into, Func<string, InvalidModelFileException> error)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw error($"'{MetadataKey}' is a JSON {e.ValueKind.ToString().ToLowerInvariant()}, expected an object of strings");
        foreach (var p in e.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw error($"'{MetadataKey}' entry '{p.Name}' is a JSON {p.Value.ValueKind.ToString().ToLowerInvariant()}, expected a string");
            if (!into.TryAdd(p.Name, p.Value.GetString()!))
                throw error($"'{MetadataKey}' lists '{p.Name}' twice");
        }
    }

    private static SafetensorsTensorInfo ReadTensorEntry(string name, JsonElement e, long dataLength, Func<string, InvalidModelFileException> error)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw error($"entry for tensor '{name}' is a JSON {e.ValueKind.ToString().ToLowerInvariant()}, expected an object");

        if (!e.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw error($"tensor '{name}' has no string 'dtype'");
        string dtypeName = dtypeEl.GetString()!;

        if (!e.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw error($"tensor '{name}' has no 'shape' array");
        int rank = shapeEl.GetArrayLength();
        if (rank > 8) throw error($"tensor '{name}' has rank {rank}; at most 8 dimensions are supported");
        var shape = new int[rank];
        long elements = 1;
        int d = 0;
        foreach (var dimEl in shapeEl.EnumerateArray())
        {
            if (dimEl.ValueKind != JsonValueKind.Number || !dimEl.TryGetInt64(out long dim) || dim < 0)
                throw error($"dimension {d} of tensor '{name}' is {dimEl.GetRawText()}, expected a non-negative integer");
            if (dim > int.MaxValue)
                throw error($"dimension {d} of tensor '{name}' is {dim}, larger than the supported maximum {int.MaxValue}");
            shape[d] = (int)dim;
            if (elements != 0 && dim != 0 && dim > long.MaxValue / elements)
                throw error($"shape of tensor '{name}' overflows a 64-bit element count");
            elements *= dim;
            d++;
        }

        if (!e.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw error($"tensor '{name}' has no 'data_offsets' pair [begin, end]");
        long begin = ReadOffset(offEl[0], name, "begin", error), end = ReadOffset(offEl[1], name, "end", error);
        if (begin > end) throw error($"tensor '{name}' has data_offsets [{begin}, {end}) with begin after end");
        if (end > dataLength)
            throw error($"tensor '{name}' data [{begin}, {end}) extends past the end of the {dataLength}-byte data section (truncated file?)");

        int? elementBytes = SafetensorsDTypes.ElementBytes(dtypeName);
        if (elementBytes is int eb)
        {
            if (elements > long.MaxValue / eb)
                throw error($"tensor '{name}' ({elements} elements of {dtypeName}) is too large to address");
            long need = elements * eb;
            if (end - begin != need)
                throw error($"tensor '{name}' is {dtypeName} [{string.Join(", ", shape)}] and needs {need} bytes, but its data_offsets [{begin}, {end}) span {end - begin}");
        }
        DType? dtype = SafetensorsDTypes.TryToDType(dtypeName, out var dt) ? dt : null;
        return new SafetensorsTensorInfo(name, dtypeName, dtype, shape, elements, begin, end);
    }

    private static long ReadOffset(JsonElement e, string name, string which, Func<string, InvalidModelFileException> error)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < 0)
            throw error($"data_offsets {which} of tensor '{name}' is {e.GetRawText()}, expected a non-negative integer");
        return v;
    }

    public bool ContainsTensor(string name) => _byName.ContainsKey(name);

    public SafetensorsTensorInfo GetTensorInfo(string name)
        => _byName.TryGetValue(name, out var info) ? info : throw new InvalidModelFileException(Path, $"no tensor named '{name}'");

    public bool TryGetTensorInfo(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SafetensorsTensorInfo? info)
        => _byName.TryGetValue(name, out info);

    public Tensor GetTensor(string name) => GetTensor(GetTensorInfo(name));

    public Tensor GetTensor(SafetensorsTensorInfo info)
    {
        if (info.DType is not DType dtype)
            throw new InvalidModelFileException(Path, $"unsupported dtype '{info.DTypeName}' for tensor '{info.Name}' (supported: F32, F16, BF16, F8_E4M3, I32)");
        byte* data = Contents.Pointer + DataOffset + info.DataBegin;
        return Tensor.FromPointer(dtype, info.Shape, data, info.ByteLength, Contents);
    }

    public string FileOf(string name) => ContainsTensor(name) ? Path : throw new InvalidModelFileException(Path, $"no tensor named '{name}'");

    public void Dispose() => Contents.Dispose();
}
