using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Safetensors;

/// <summary>
/// Builds safetensors files: tensors are queued in order, then written as one file (<see cref="Write"/>) or as shards
/// plus a <c>model.safetensors.index.json</c> (<see cref="WriteSharded"/>). Every file goes to a temporary name beside
/// its target and is renamed into place when complete; tensor bytes stream from each tensor's native memory.
/// </summary>
public sealed class SafetensorsWriter
{
    /// <summary>The data section starts at a multiple of this (the header JSON is padded with spaces), so the first tensor is cache-line aligned.</summary>
    public const int DataAlignment = 64;

    // Files are not HTML: keep non-ASCII names readable instead of \u-escaping them (the JSON is equally valid).
    private static readonly JavaScriptEncoder JsonText = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    private readonly List<TensorToWrite> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>The <c>__metadata__</c> string map written into every file (omitted when empty).</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>Queues an existing contiguous tensor; its memory must stay valid until writing returns.</summary>
    public SafetensorsWriter AddTensor(string name, Tensor tensor) => Add(new TensorToWrite(name, tensor));

    /// <summary>
    /// Queues a tensor produced on demand: <paramref name="source"/> is called when the writer reaches it, must
    /// return exactly <paramref name="dtype"/> and <paramref name="shape"/>, and the writer disposes the result.
    /// </summary>
    public SafetensorsWriter AddTensor(string name, DType dtype, int[] shape, Func<Tensor> source) => Add(new TensorToWrite(name, dtype, shape, source));

    /// <summary>Queues an F8E4M3 weight and its attached block scales as <c>name</c> and <c>name_scale_inv</c> (DeepSeek's layout).</summary>
    public SafetensorsWriter AddFp8Weight(string name, Tensor weight)
    {
        if (weight.DType != DType.F8E4M3 || weight.BlockScales is null)
            throw new ArgumentException($"'{name}' must be an F8E4M3 tensor with block scales attached, got {weight.DType}{(weight.BlockScales is null ? " without scales" : "")}", nameof(weight));
        AddTensor(name, weight);
        return AddTensor(Fp8ScalePairing.ScaleNameFor(name), weight.BlockScales);
    }

    private SafetensorsWriter Add(TensorToWrite t)
    {
        SafetensorsDTypes.FromDType(t.DType); // rejects block formats now rather than halfway through a write
        if (t.Name == SafetensorsFile.MetadataKey) throw new ArgumentException($"'{SafetensorsFile.MetadataKey}' is reserved and cannot name a tensor");
        if (!_names.Add(t.Name)) throw new ArgumentException($"tensor '{t.Name}' was already added");
        _tensors.Add(t);
        return this;
    }

    /// <summary>Writes all tensors to one file.</summary>
    public void Write(string path) => WriteFile(path, _tensors);

    /// <summary>
    /// Writes shards of at most <paramref name="maxShardBytes"/> of tensor data each (a single larger tensor gets a
    /// shard of its own), named <c>{baseName}-00001-of-0000N.safetensors</c>, then the index
    /// <c>{baseName}.safetensors.index.json</c> last, so a directory with an index always has all its shards.
    /// </summary>
    /// <returns>The shard file paths, in order.</returns>
    public IReadOnlyList<string> WriteSharded(string directory, long maxShardBytes, string baseName = "model")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxShardBytes, 1);
        ArgumentException.ThrowIfNullOrEmpty(baseName);
        var groups = new List<List<TensorToWrite>>();
        long current = 0;
        foreach (var t in _tensors)
        {
            if (groups.Count == 0 || (current > 0 && current + t.ByteLength > maxShardBytes))
            {
                groups.Add([]);
                current = 0;
            }
            groups[^1].Add(t);
            current += t.ByteLength;
        }
        if (groups.Count == 0) groups.Add([]);

        var paths = new List<string>();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < groups.Count; i++)
        {
            string file = $"{baseName}-{i + 1:D5}-of-{groups.Count:D5}.safetensors";
            string path = System.IO.Path.Combine(directory, file);
            WriteFile(path, groups[i]);
            paths.Add(path);
            foreach (var t in groups[i]) weightMap[t.Name] = file;
        }

        using var pending = new PendingFile(System.IO.Path.Combine(directory, $"{baseName}.safetensors.index.json"));
        using (var json = new Utf8JsonWriter(pending.Stream, new JsonWriterOptions { Indented = true, Encoder = JsonText }))
        {
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", _tensors.Sum(t => t.ByteLength));
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (name, file) in weightMap) json.WriteString(name, file);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        pending.Commit();
        return paths;
    }

    private void WriteFile(string path, List<TensorToWrite> tensors)
    {
        byte[] header = BuildHeader(tensors);
        using var pending = new PendingFile(path);
        var s = pending.Stream;
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        s.Write(len);
        s.Write(header);
        foreach (var t in tensors) t.WriteData(s);
        pending.Commit();
    }

    private byte[] BuildHeader(List<TensorToWrite> tensors)
    {
        using var ms = new MemoryStream();
        using (var json = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JsonText }))
        {
            json.WriteStartObject();
            if (Metadata.Count > 0)
            {
                json.WriteStartObject(SafetensorsFile.MetadataKey);
                foreach (var (k, v) in Metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", SafetensorsDTypes.FromDType(t.DType));
                json.WriteStartArray("shape");
                foreach (int d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.ByteLength);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.ByteLength;
            }
            json.WriteEndObject();
        }
        // Trailing spaces are valid JSON whitespace; they pad 8 + header to the data alignment.
        long unpadded = 8 + ms.Length;
        int pad = (int)((DataAlignment - unpadded % DataAlignment) % DataAlignment);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');
        return ms.ToArray();
    }
}
