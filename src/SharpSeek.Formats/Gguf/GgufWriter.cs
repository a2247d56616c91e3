using System.Buffers.Binary;
using System.Text;
using SharpSeek.Tensors;

namespace SharpSeek.Formats.Gguf;

/// <summary>
/// Builds a GGUF file: metadata entries and tensors are queued in order, then <see cref="Write"/> streams them to a
/// temporary file beside the target and renames it into place. Tensor data goes straight from each tensor's native
/// memory to the file, so writing a 10 GB model needs no 10 GB buffer; with the factory overload of
/// <see cref="AddTensor(string, DType, int[], Func{Tensor})"/> only one tensor need exist at a time.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<TensorToWrite> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    /// <summary>GGUF version written; 2 and 3 share the little-endian layout, 3 is what llama.cpp writes today.</summary>
    public uint Version { get; init; } = 3;

    /// <summary>Data alignment: <c>general.alignment</c> when that key was added (it must be a UInt32 power of two), else 32.</summary>
    public uint Alignment
    {
        get
        {
            var entry = _metadata.FirstOrDefault(kv => kv.Key == GgufFile.AlignmentKey);
            if (entry.Value is null) return GgufFile.DefaultAlignment;
            if (entry.Value.Type != GgufValueType.UInt32)
                throw new InvalidOperationException($"'{GgufFile.AlignmentKey}' must be UInt32, not {entry.Value.Describe()}");
            uint a = (uint)entry.Value.Value;
            if (a == 0 || (a & (a - 1)) != 0) throw new InvalidOperationException($"'{GgufFile.AlignmentKey}' must be a power of two, not {a}");
            return a;
        }
    }

    /// <summary>Queues a metadata entry (written in the order added); keys must be unique.</summary>
    public GgufWriter AddMetadata(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (value.Value is GgufArray a && NestingDepth(a) > GgufFile.MaxArrayNesting)
            throw new ArgumentException($"metadata '{key}' nests arrays deeper than the {GgufFile.MaxArrayNesting} levels readers accept", nameof(value));
        if (!_keys.Add(key)) throw new ArgumentException($"metadata key '{key}' was already added", nameof(key));
        _metadata.Add(new(key, value));
        return this;
    }

    private static int NestingDepth(GgufArray a)
        => a.Items is GgufArray[] inner ? 1 + inner.Select(NestingDepth).DefaultIfEmpty(0).Max() : 1;

    /// <summary>Queues every entry of an existing file's metadata (e.g. to rewrite a file with new tensors).</summary>
    public GgufWriter AddMetadata(IEnumerable<KeyValuePair<string, GgufValue>> entries)
    {
        foreach (var kv in entries) AddMetadata(kv.Key, kv.Value);
        return this;
    }

    /// <summary>Queues an existing tensor (contiguous, rank ≤ 4). Its memory must stay valid until <see cref="Write"/> returns.</summary>
    public GgufWriter AddTensor(string name, Tensor tensor) => Add(new TensorToWrite(name, tensor));

    /// <summary>
    /// Queues a tensor produced on demand while writing: <paramref name="source"/> is called when the writer reaches
    /// it, must return exactly <paramref name="dtype"/> and <paramref name="shape"/>, and the writer disposes the result.
    /// </summary>
    public GgufWriter AddTensor(string name, DType dtype, int[] shape, Func<Tensor> source) => Add(new TensorToWrite(name, dtype, shape, source));

    private GgufWriter Add(TensorToWrite t)
    {
        GgmlTypes.FromDType(t.DType); // rejects dtypes GGUF cannot hold now, not halfway through writing
        if (t.Shape.Length > GgufFile.MaxDimensions)
            throw new ArgumentException($"tensor '{t.Name}' has rank {t.Shape.Length}; GGUF allows at most {GgufFile.MaxDimensions}");
        if (!_tensorNames.Add(t.Name)) throw new ArgumentException($"tensor '{t.Name}' was already added");
        _tensors.Add(t);
        return this;
    }

    /// <summary>Writes the file atomically (temp file in the same directory, then rename).</summary>
    public void Write(string path)
    {
        uint alignment = Alignment;
        if (Version is not (2 or 3)) throw new InvalidOperationException($"GGUF version {Version} cannot be written; use 2 or 3");

        // Offsets are fixed before any data is produced, so the tensor table can be written first.
        var offsets = new long[_tensors.Count];
        long next = 0;
        for (int i = 0; i < _tensors.Count; i++)
        {
            offsets[i] = next;
            next = AlignUp(checked(next + _tensors[i].ByteLength), alignment);
        }

        using var pending = new PendingFile(path);
        var s = pending.Stream;
        var w = new FieldWriter(s);
        w.Bytes("GGUF"u8);
        w.U32(Version);
        w.U64((ulong)_tensors.Count);
        w.U64((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            w.String(key);
            w.U32((uint)value.Type);
            WriteValue(w, value);
        }
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            w.String(t.Name);
            w.U32((uint)t.Shape.Length);
            for (int d = t.Shape.Length - 1; d >= 0; d--) w.U64((ulong)t.Shape[d]); // fastest-varying first
            w.U32(GgmlTypes.FromDType(t.DType));
            w.U64((ulong)offsets[i]);
        }
        long dataStart = AlignUp(s.Position, alignment);
        TensorByteWriter.WriteZeros(s, dataStart - s.Position);
        for (int i = 0; i < _tensors.Count; i++)
        {
            TensorByteWriter.WriteZeros(s, dataStart + offsets[i] - s.Position);
            _tensors[i].WriteData(s);
        }
        // llama.cpp pads the last tensor too, so the file length is a multiple of the alignment past the data start.
        TensorByteWriter.WriteZeros(s, dataStart + next - s.Position);
        pending.Commit();
    }

    private static long AlignUp(long x, uint alignment) => checked((x + alignment - 1) / alignment * alignment);

    private static void WriteValue(FieldWriter w, GgufValue v)
    {
        switch (v.Value)
        {
            case byte x: w.U8(x); break;
            case sbyte x: w.U8((byte)x); break;
            case ushort x: w.U16(x); break;
            case short x: w.U16((ushort)x); break;
            case uint x: w.U32(x); break;
            case int x: w.U32((uint)x); break;
            case float x: w.U32(BitConverter.SingleToUInt32Bits(x)); break;
            case bool x: w.U8(x ? (byte)1 : (byte)0); break;
            case string x: w.String(x); break;
            case ulong x: w.U64(x); break;
            case long x: w.U64((ulong)x); break;
            case double x: w.U64(BitConverter.DoubleToUInt64Bits(x)); break;
            case GgufArray a: WriteArray(w, a); break;
            default: throw new InvalidOperationException($"unexpected GGUF value {v.Value.GetType()}");
        }
    }

    private static void WriteArray(FieldWriter w, GgufArray a)
    {
        w.U32((uint)a.ElementType);
        w.U64((ulong)a.Count);
        switch (a.Items)
        {
            case string[] strings: foreach (var x in strings) w.String(x); break;
            case GgufArray[] arrays: foreach (var x in arrays) WriteArray(w, x); break;
            case bool[] bools: foreach (var x in bools) w.U8(x ? (byte)1 : (byte)0); break;
            // The numeric element arrays are already in little-endian memory order.
            case byte[] x: w.Bytes(x); break;
            case sbyte[] x: w.Bytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan())); break;
            case ushort[] x: w.Bytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan())); break;
            case short[] x: w.Bytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan())); break;
            case uint[] x: w.Bytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan())); break;
            case int[] x: w.Bytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan())); break;
            case float[] x: w.Bytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan())); break;
            case ulong[] x: w.Bytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan())); break;
            case long[] x: w.Bytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan())); break;
            case double[] x: w.Bytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan())); break;
            default: throw new InvalidOperationException($"unexpected GGUF array {a.Items.GetType()}");
        }
    }

    /// <summary>Little-endian GGUF field encoding onto a stream.</summary>
    private sealed class FieldWriter(Stream s)
    {
        public void Bytes(ReadOnlySpan<byte> b) => s.Write(b);
        public void U8(byte v) => s.WriteByte(v);

        public void U16(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, v);
            s.Write(b);
        }

        public void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            s.Write(b);
        }

        public void U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, v);
            s.Write(b);
        }

        public void String(string v)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(v);
            U64((ulong)utf8.Length);
            s.Write(utf8);
        }
    }
}
