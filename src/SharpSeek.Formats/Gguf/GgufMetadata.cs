using System.Collections;

namespace SharpSeek.Formats.Gguf;

/// <summary>
/// The key/value metadata of a GGUF file, in file order, with typed getters. A missing key or a value of the wrong
/// type is a problem with the file, so the getters throw <see cref="InvalidModelFileException"/> naming file, key
/// and both types.
/// </summary>
public sealed class GgufMetadata : IReadOnlyList<KeyValuePair<string, GgufValue>>
{
    private readonly List<KeyValuePair<string, GgufValue>> _entries;
    private readonly Dictionary<string, GgufValue> _byKey;

    /// <summary>The file these entries came from (used in error messages).</summary>
    public string FilePath { get; }

    internal GgufMetadata(string filePath, List<KeyValuePair<string, GgufValue>> entries, Dictionary<string, GgufValue> byKey)
    {
        FilePath = filePath;
        _entries = entries;
        _byKey = byKey;
    }

    public int Count => _entries.Count;
    public KeyValuePair<string, GgufValue> this[int index] => _entries[index];
    public IEnumerable<string> Keys => _entries.Select(e => e.Key);
    public IEnumerator<KeyValuePair<string, GgufValue>> GetEnumerator() => _entries.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public bool ContainsKey(string key) => _byKey.ContainsKey(key);
    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out GgufValue? value) => _byKey.TryGetValue(key, out value);

    /// <summary>The value of <paramref name="key"/>; throws when absent.</summary>
    public GgufValue Get(string key)
        => _byKey.TryGetValue(key, out var v) ? v : throw new InvalidModelFileException(FilePath, $"metadata key '{key}' is missing");

    public byte GetUInt8(string key) => GetExact<byte>(key, GgufValueType.UInt8);
    public sbyte GetInt8(string key) => GetExact<sbyte>(key, GgufValueType.Int8);
    public ushort GetUInt16(string key) => GetExact<ushort>(key, GgufValueType.UInt16);
    public short GetInt16(string key) => GetExact<short>(key, GgufValueType.Int16);
    public uint GetUInt32(string key) => GetExact<uint>(key, GgufValueType.UInt32);
    public int GetInt32(string key) => GetExact<int>(key, GgufValueType.Int32);
    public ulong GetUInt64(string key) => GetExact<ulong>(key, GgufValueType.UInt64);
    public long GetInt64(string key) => GetExact<long>(key, GgufValueType.Int64);
    public float GetFloat32(string key) => GetExact<float>(key, GgufValueType.Float32);
    public double GetFloat64(string key) => GetExact<double>(key, GgufValueType.Float64);
    public bool GetBool(string key) => GetExact<bool>(key, GgufValueType.Bool);
    public string GetString(string key) => GetExact<string>(key, GgufValueType.String);
    public GgufArray GetArray(string key) => GetExact<GgufArray>(key, GgufValueType.Array);

    /// <summary>An array whose elements are <typeparamref name="T"/> (e.g. <c>GetArray&lt;string&gt;("tokenizer.ggml.tokens")</c>).</summary>
    public T[] GetArray<T>(string key)
    {
        var a = GetArray(key);
        return a.Items as T[] ?? throw new InvalidModelFileException(FilePath,
            $"metadata key '{key}' is an array of {a.ElementType}, expected an array of {typeof(T).Name}");
    }

    /// <summary>
    /// Any integer type widened to long. Converters disagree on the integer width of the same key (u32 vs i32 vs
    /// u64), so model loaders should prefer this over the exact getters for counts and sizes.
    /// </summary>
    public long GetInteger(string key)
    {
        var v = Get(key);
        return v.TryGetInteger(out long l) ? l : throw WrongType(key, v, "an integer");
    }

    /// <summary>Any numeric type (float or integer) widened to double.</summary>
    public double GetNumber(string key)
    {
        var v = Get(key);
        return v.TryGetNumber(out double d) ? d : throw WrongType(key, v, "a number");
    }

    /// <summary><see cref="GetInteger(string)"/>, or <paramref name="fallback"/> when the key is absent (a present key of the wrong type still throws).</summary>
    public long GetInteger(string key, long fallback) => ContainsKey(key) ? GetInteger(key) : fallback;

    /// <summary><see cref="GetNumber(string)"/>, or <paramref name="fallback"/> when the key is absent.</summary>
    public double GetNumber(string key, double fallback) => ContainsKey(key) ? GetNumber(key) : fallback;

    /// <summary><see cref="GetString(string)"/>, or <paramref name="fallback"/> when the key is absent.</summary>
    public string GetString(string key, string fallback) => ContainsKey(key) ? GetString(key) : fallback;

    /// <summary><see cref="GetBool(string)"/>, or <paramref name="fallback"/> when the key is absent.</summary>
    public bool GetBool(string key, bool fallback) => ContainsKey(key) ? GetBool(key) : fallback;

    private T GetExact<T>(string key, GgufValueType type)
    {
        var v = Get(key);
        return v.Type == type ? (T)v.Value : throw WrongType(key, v, type.ToString());
    }

    private InvalidModelFileException WrongType(string key, GgufValue v, string expected)
        => new(FilePath, $"metadata key '{key}' is {v.Describe()}, expected {expected}");
}
